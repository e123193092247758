package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// httpClient keeps its connection to the supervisor's control API open between switches, as an
// operator's panel would, so a switch is one request on a warm connection.
var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}

// httpSwitch asks the supervisor's control API to switch pair to side ("main" or "backup"):
// POST /api/pairs/{pair}/switch with the operator's bearer token and {"to": side}. It returns the
// moment the request was sent.
func httpSwitch(ctx context.Context, addr, token, pair, side string) (time.Time, error) {
	u := "http://" + addr + "/api/pairs/" + url.PathEscape(pair) + "/switch"
	body := []byte(fmt.Sprintf(`{"to":%q}`, side))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return time.Time{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	res, err := httpClient.Do(req)
	if err != nil {
		return t0, fmt.Errorf("control API: %w", err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode/100 != 2 {
		return t0, fmt.Errorf("control API: POST %s: %s: %s", u, res.Status, bytes.TrimSpace(msg))
	}
	return t0, nil
}

// controlAPIAvailable probes the control API (GET /api/status with the operator's token).
func controlAPIAvailable(ctx context.Context, addr, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/status", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("control API not reachable at %s: %w", addr, err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("control API at %s: GET /api/status: %s", addr, res.Status)
	}
	return nil
}

// fetchProfile saves one of the supervisor's runtime profiles (GET /debug/pprof/PATH, a level-3
// operator's token) to file, for `go tool pprof`.
func fetchProfile(ctx context.Context, addr, token, path, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req) // no client timeout: a CPU profile takes its seconds
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("profile %s: %w", path, err)
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("profile %s: %s: %s", path, res.Status, bytes.TrimSpace(b[:min(len(b), 512)]))
	}
	return os.WriteFile(file, b, 0o644)
}

// metricValue reads one unlabelled metric from the supervisor's /metrics (an operator's token).
func metricValue(ctx context.Context, addr, token, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	if res.StatusCode/100 != 2 {
		return 0, fmt.Errorf("metrics: %s", res.Status)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}
