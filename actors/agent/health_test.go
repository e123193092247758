package agent

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func sample(t *testing.T, s sampler) (float64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s(ctx)
}

func TestBuiltinsFromFakeHost(t *testing.T) {
	root := t.TempDir()
	h := host{proc: filepath.Join(root, "proc"), sys: filepath.Join(root, "sys"), disk: root, nvidiaSMI: filepath.Join(root, "nvidia-smi")}
	write(t, filepath.Join(h.proc, "meminfo"), "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\n")
	write(t, filepath.Join(h.sys, "class/thermal/thermal_zone0/type"), "acpitz\n")
	write(t, filepath.Join(h.sys, "class/thermal/thermal_zone0/temp"), "99000\n")
	write(t, filepath.Join(h.sys, "class/thermal/thermal_zone1/type"), "x86_pkg_temp\n")
	write(t, filepath.Join(h.sys, "class/thermal/thermal_zone1/temp"), "61500\n")
	write(t, h.nvidiaSMI, "#!/bin/sh\necho 55\necho 71\n")

	if v, err := sample(t, h.builtin("memory_used")); err != nil || v != 75 {
		t.Errorf("memory_used = %v, %v; want 75", v, err)
	}
	if v, err := sample(t, h.builtin("cpu_temp")); err != nil || v != 61.5 {
		t.Errorf("cpu_temp = %v, %v; want 61.5 (the acpitz zone is not a CPU)", v, err)
	}
	if v, err := sample(t, h.builtin("gpu_temp")); err != nil || v != 71 {
		t.Errorf("gpu_temp = %v, %v; want the hottest GPU, 71", v, err)
	}
	if v, err := sample(t, h.builtin("disk_used")); err != nil || v < 0 || v > 100 {
		t.Errorf("disk_used = %v, %v", v, err)
	}

	// cpu_load from two /proc/stat samples: 300 of 400 jiffies busy in between.
	write(t, filepath.Join(h.proc, "stat"), "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n")
	load := h.builtin("cpu_load")
	if _, err := sample(t, load); err == nil { // the file does not move during the first window
		t.Fatal("first cpu_load over a frozen /proc/stat is not an error")
	}
	write(t, filepath.Join(h.proc, "stat"), "cpu  250 0 250 750 150 0 0 0 0 0\n")
	if v, err := sample(t, load); err != nil || v != 75 {
		t.Errorf("cpu_load = %v, %v; want 75", v, err)
	}
	if _, err := sample(t, load); err == nil {
		t.Error("cpu_load with no time elapsed is not an error")
	}
}

func TestBuiltinsHwmonFallback(t *testing.T) {
	root := t.TempDir()
	h := host{sys: root}
	write(t, filepath.Join(root, "class/hwmon/hwmon0/name"), "nvme\n")
	write(t, filepath.Join(root, "class/hwmon/hwmon0/temp1_input"), "90000\n")
	write(t, filepath.Join(root, "class/hwmon/hwmon1/name"), "k10temp\n")
	write(t, filepath.Join(root, "class/hwmon/hwmon1/temp1_input"), "48250\n")
	if v, err := sample(t, h.builtin("cpu_temp")); err != nil || v != 48.25 {
		t.Errorf("cpu_temp = %v, %v; want 48.25 from k10temp", v, err)
	}
}

func TestBuiltinsAbsentSensors(t *testing.T) {
	root := t.TempDir()
	h := host{proc: root, sys: root, disk: filepath.Join(root, "missing"), nvidiaSMI: ""}
	t.Setenv("PATH", root) // no nvidia-smi
	for _, name := range []string{"cpu_load", "memory_used", "disk_used", "cpu_temp", "gpu_temp", "no_such"} {
		_, err := sample(t, h.builtin(name))
		if err == nil {
			t.Errorf("%s on an empty host: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := sample(t, h.builtin("cpu_temp")); !errors.Is(err, errNoSensor) {
		t.Errorf("cpu_temp: %v, want errNoSensor", err)
	}
	if _, err := sample(t, h.builtin("gpu_temp")); !errors.Is(err, errNoSensor) {
		t.Errorf("gpu_temp: %v, want errNoSensor", err)
	}
}

// TestBuiltinsRealHost reads this machine: whatever it has must not crash, and percentages are sane.
func TestBuiltinsRealHost(t *testing.T) {
	for _, name := range []string{"cpu_load", "memory_used", "disk_used", "cpu_temp", "gpu_temp"} {
		v, err := sample(t, realHost.builtin(name))
		t.Logf("%s = %v (err %v)", name, v, err)
		if err == nil && strings.HasSuffix(name, "_used") && (v < 0 || v > 100) {
			t.Errorf("%s = %v", name, v)
		}
	}
}

func TestCommandAndURLSamplers(t *testing.T) {
	if v, err := sample(t, commandSampler([]string{"sh", "-c", "echo '  59.94 fps'"})); err != nil || v != 59.94 {
		t.Errorf("command = %v, %v", v, err)
	}
	if _, err := sample(t, commandSampler([]string{"sh", "-c", "echo n/a"})); err == nil || !strings.Contains(err.Error(), `"n/a" is not a number`) {
		t.Errorf("non-number: %v", err)
	}
	if _, err := sample(t, commandSampler([]string{"sh", "-c", "exit 4"})); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Errorf("failing command: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fps" {
			w.Write([]byte("50\n"))
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	if v, err := sample(t, urlSampler(srv.URL+"/fps")); err != nil || v != 50 {
		t.Errorf("url = %v, %v", v, err)
	}
	if _, err := sample(t, urlSampler(srv.URL+"/nope")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"42": 42, " -3.5\n": -3.5, "1e3 x": 1000, "0": 0} {
		if v, err := parseNumber([]byte(in)); err != nil || v != want {
			t.Errorf("parseNumber(%q) = %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "  \n", "NaN", "Inf", "-Inf", "1e400", "abc", "0x"} {
		if v, err := parseNumber([]byte(in)); err == nil {
			t.Errorf("parseNumber(%q) = %v, no error", in, v)
		} else if math.IsNaN(v) {
			t.Errorf("parseNumber(%q) returned NaN", in)
		}
	}
}
