package supervisor

import (
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"

	"standby/conf"
)

// memoryLimit is the soft memory limit of a config: 64 MiB and 14 KiB for each machine and each
// pair or pool, at least 256 MiB. At 5000 pairs the live heap is some 140 MiB; the collector's
// default target (twice the live heap) took the process past 330 MB, the limit keeps it near
// 270 MiB for a little more collecting. Smaller studios never reach it: nothing changes for them.
func memoryLimit(cfg *conf.Config) int64 {
	return max(256<<20, 64<<20+14<<10*int64(len(cfg.Machines)+len(cfg.Pairs)+len(cfg.Pools)))
}

// limitMemory sets the soft memory limit for cfg, unless GOMEMLIMIT says otherwise. Only the
// resident process does (Run): tests that start supervisors in their own process keep theirs.
func limitMemory(cfg *conf.Config, log zerolog.Logger) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		log.Info().Str("memory_limit", "GOMEMLIMIT="+v).Msg("memory")
		return
	}
	limit := memoryLimit(cfg)
	debug.SetMemoryLimit(limit)
	log.Info().Int64("memory_limit_mb", limit>>20).Msg("memory")
}
