// Package logx holds what Standby's actors share about logging beyond zerolog itself.
package logx

import "github.com/rs/zerolog"

// Tagged is a logger whose every event carries one more field (key, value), added per event: a
// zerolog child logger (Logger.With) holds a buffer of its own, some 800 bytes, which for the
// supervisor's thousands of machine and pool actors was megabytes of heap kept for one name.
type Tagged struct {
	Log        zerolog.Logger
	Key, Value string
}

// Debug, Info, Warn and Error start an event at that level with the tag.
func (t *Tagged) Debug() *zerolog.Event { return t.Log.Debug().Str(t.Key, t.Value) }
func (t *Tagged) Info() *zerolog.Event  { return t.Log.Info().Str(t.Key, t.Value) }
func (t *Tagged) Warn() *zerolog.Event  { return t.Log.Warn().Str(t.Key, t.Value) }
func (t *Tagged) Error() *zerolog.Event { return t.Log.Error().Str(t.Key, t.Value) }
