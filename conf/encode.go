package conf

import (
	"bytes"
	"strconv"

	"github.com/BurntSushi/toml"
)

// MarshalTOML writes a port as a TOML integer or string, so an encoded config parses back the same.
func (p Port) MarshalTOML() ([]byte, error) {
	if p.Label != "" {
		return []byte(strconv.Quote(p.Label)), nil
	}
	return []byte(strconv.Itoa(p.Number)), nil
}

// Encode writes c as TOML that Parse reads back to the same config. Edits made at run time (the
// control surfaces' mapping changes) go through Encode and Parse, so they are validated exactly
// like a file.
func Encode(c *Config) ([]byte, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Check validates a config built or edited at run time exactly like a file: encoded, then parsed.
// It returns the parsed config (defaults applied) or the file's errors.
func Check(c *Config) (*Config, error) {
	b, err := Encode(c)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}
