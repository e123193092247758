package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// sampler reads one health value. An error means no valid value; its text is the reason.
type sampler func(ctx context.Context) (float64, error)

// errNoSensor marks a builtin the machine cannot provide.
var errNoSensor = errors.New("no sensor")

// host holds where builtins read the machine from; tests point it at fake trees.
type host struct {
	proc      string // /proc
	sys       string // /sys
	disk      string // the file system disk_used measures
	nvidiaSMI string // "" finds nvidia-smi on PATH
}

var realHost = host{proc: "/proc", sys: "/sys", disk: "/"}

// builtin returns the sampler for a builtin health name.
func (h host) builtin(name string) sampler {
	switch name {
	case "cpu_load":
		return h.cpuLoad()
	case "memory_used":
		return h.memoryUsed
	case "disk_used":
		return h.diskUsed
	case "cpu_temp":
		return h.cpuTemp
	case "gpu_temp":
		return h.gpuTemp
	}
	return func(context.Context) (float64, error) { return 0, fmt.Errorf("%q is not a builtin", name) }
}

// cpuLoad is the percentage of CPU time not idle since the previous sample (the first sample
// measures over a short window of its own).
func (h host) cpuLoad() sampler {
	var prevBusy, prevTotal uint64
	return func(ctx context.Context) (float64, error) {
		if prevTotal == 0 {
			b, t, err := h.cpuTimes()
			if err != nil {
				return 0, err
			}
			prevBusy, prevTotal = b, t
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return 0, ctx.Err()
			}
		}
		busy, total, err := h.cpuTimes()
		if err != nil {
			return 0, err
		}
		if busy < prevBusy || total <= prevTotal {
			prevBusy, prevTotal = busy, total
			return 0, errors.New("cpu_load: no CPU time elapsed")
		}
		db, dt := busy-prevBusy, total-prevTotal
		prevBusy, prevTotal = busy, total
		return 100 * float64(db) / float64(dt), nil
	}
}

// cpuTimes reads the aggregate "cpu" line of /proc/stat: busy and total jiffies.
func (h host) cpuTimes() (busy, total uint64, err error) {
	b, err := readSmall(filepath.Join(h.proc, "stat"), 4096)
	if err != nil {
		return 0, 0, fmt.Errorf("cpu_load: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, errors.New("cpu_load: unexpected /proc/stat")
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, errors.New("cpu_load: unexpected /proc/stat")
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// memoryUsed is the percentage of memory not available (MemTotal - MemAvailable).
func (h host) memoryUsed(context.Context) (float64, error) {
	f, err := os.Open(filepath.Join(h.proc, "meminfo"))
	if err != nil {
		return 0, fmt.Errorf("memory_used: %w", err)
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = v
		case "MemAvailable:":
			avail = v
		}
	}
	if total <= 0 {
		return 0, errors.New("memory_used: no MemTotal in meminfo")
	}
	return 100 * (total - avail) / total, nil
}

// diskUsed is the percentage of the file system in use, as df counts it (blocks reserved for root
// are not available to others).
func (h host) diskUsed(context.Context) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(h.disk, &st); err != nil {
		return 0, fmt.Errorf("disk_used %s: %w", h.disk, err)
	}
	used := float64(st.Blocks - st.Bfree)
	if used+float64(st.Bavail) == 0 {
		return 0, fmt.Errorf("disk_used %s: empty file system", h.disk)
	}
	return 100 * used / (used + float64(st.Bavail)), nil
}

// cpuTemp is the hottest CPU package sensor in °C: thermal zones of a CPU type, else hwmon chips of
// known CPU drivers. No sensor (VMs, containers) is an error, not a crash.
func (h host) cpuTemp(context.Context) (float64, error) {
	var temps []float64
	zones, _ := filepath.Glob(filepath.Join(h.sys, "class/thermal/thermal_zone*"))
	for _, z := range zones {
		typ, err := readSmall(filepath.Join(z, "type"), 128)
		if err != nil {
			continue
		}
		t := strings.ToLower(strings.TrimSpace(string(typ)))
		if strings.Contains(t, "x86_pkg") || strings.Contains(t, "cpu") || strings.Contains(t, "soc") {
			if v, err := milliCelsius(filepath.Join(z, "temp")); err == nil {
				temps = append(temps, v)
			}
		}
	}
	if len(temps) == 0 {
		chips, _ := filepath.Glob(filepath.Join(h.sys, "class/hwmon/hwmon*"))
		for _, c := range chips {
			name, err := readSmall(filepath.Join(c, "name"), 128)
			if err != nil {
				continue
			}
			switch strings.TrimSpace(string(name)) {
			case "coretemp", "k10temp", "zenpower", "cpu_thermal":
				inputs, _ := filepath.Glob(filepath.Join(c, "temp*_input"))
				for _, in := range inputs {
					if v, err := milliCelsius(in); err == nil {
						temps = append(temps, v)
					}
				}
			}
		}
	}
	if len(temps) == 0 {
		return 0, fmt.Errorf("cpu_temp: %w (no CPU thermal zone or hwmon chip)", errNoSensor)
	}
	sort.Float64s(temps)
	return temps[len(temps)-1], nil
}

func milliCelsius(path string) (float64, error) {
	b, err := readSmall(path, 32)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	if err != nil {
		return 0, err
	}
	return v / 1000, nil
}

// gpuTemp is the hottest NVIDIA GPU in °C, from nvidia-smi.
func (h host) gpuTemp(ctx context.Context) (float64, error) {
	bin := h.nvidiaSMI
	if bin == "" {
		p, err := exec.LookPath("nvidia-smi")
		if err != nil {
			return 0, fmt.Errorf("gpu_temp: %w (nvidia-smi not found)", errNoSensor)
		}
		bin = p
	}
	out, err := runCommand(ctx, []string{bin, "--query-gpu=temperature.gpu", "--format=csv,noheader,nounits"})
	if err != nil {
		return 0, fmt.Errorf("gpu_temp: %w", err)
	}
	best, found := 0.0, false
	for _, line := range strings.Split(string(out), "\n") {
		if v, err := strconv.ParseFloat(strings.TrimSpace(line), 64); err == nil && (!found || v > best) {
			best, found = v, true
		}
	}
	if !found {
		return 0, fmt.Errorf("gpu_temp: nvidia-smi printed no temperature: %q", firstLine(string(out)))
	}
	return best, nil
}

// commandSampler runs argv and reads the first field of its output as the value.
func commandSampler(argv []string) sampler {
	return func(ctx context.Context) (float64, error) {
		out, err := runCommand(ctx, argv)
		if err != nil {
			return 0, err
		}
		return parseNumber(out)
	}
}

// urlSampler GETs url and reads its body as the value.
func urlSampler(url string) sampler {
	return func(ctx context.Context) (float64, error) {
		body, err := httpGet(ctx, url)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return 0, fmt.Errorf("timed out: %w", err)
			}
			return 0, err
		}
		return parseNumber(body)
	}
}

// parseNumber reads the first whitespace-separated field as a finite number.
func parseNumber(b []byte) (float64, error) {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, errors.New("printed no number")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil || v != v || v > 1e300 || v < -1e300 {
		return 0, fmt.Errorf("%q is not a number", truncate(f[0], 32))
	}
	return v, nil
}
