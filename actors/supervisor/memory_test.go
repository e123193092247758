package supervisor

import (
	"fmt"
	"testing"

	"standby/conf"
)

// TestMemoryLimit: the soft memory limit grows with the studio, from 256 MiB.
func TestMemoryLimit(t *testing.T) {
	cfg, err := conf.Parse([]byte(threePairs))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := memoryLimit(cfg), int64(256<<20); got != want {
		t.Errorf("three pairs: %d, want %d (at least 256 MiB)", got, want)
	}
	for i := range 20000 - 6 { // 10 000 pairs: 20 000 machines
		cfg.Machines = append(cfg.Machines, conf.Machine{Name: fmt.Sprint("m", i)})
	}
	cfg.Pairs = append(cfg.Pairs, make([]conf.Pair, 10000-3)...)
	if got, want := memoryLimit(cfg), int64(64<<20+14<<10*30000); got != want {
		t.Errorf("10 000 pairs: %d, want %d (64 MiB and 14 KiB for each machine and pair)", got, want)
	}
}
