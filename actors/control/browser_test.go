package control

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium, or $STANDBY_CHROMIUM.
func chromiumPath() string {
	if p := os.Getenv("STANDBY_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// needChromium skips the test when there is no chromium, or fails it when STANDBY_REQUIRE_BROWSER
// is set (CI, so the browser test cannot silently stop running).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath()); err != nil {
		msg := fmt.Sprintf("no chromium at %s (Debian: apt-get install -y chromium; or set STANDBY_CHROMIUM)", chromiumPath())
		if os.Getenv("STANDBY_REQUIRE_BROWSER") != "" {
			t.Fatal(msg + " and STANDBY_REQUIRE_BROWSER is set")
		}
		t.Skip(msg + ": browser test skipped")
	}
}

// startChromium runs headless chromium and returns the browser's DevTools WebSocket URL, read
// from the line chromium prints once it listens.
func startChromium(t *testing.T) string {
	t.Helper()
	needChromium(t)
	bin := chromiumPath()
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
		"--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir="+profile,
		"--remote-debugging-port=0", "--window-size=1280,900", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers die with it
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wsURL := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "DevTools listening on "); ok {
				wsURL <- strings.TrimSpace(u)
			}
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		<-done
	})
	select {
	case u := <-wsURL:
		return u
	case <-done:
		t.Fatal("chromium exited before listening")
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start listening within 30s")
	}
	return ""
}

// artifactDir is where screenshots go: $STANDBY_ARTIFACTS, or the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("STANDBY_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// page is one browser tab on the panels, driven over the DevTools protocol.
type page struct {
	t       *testing.T
	ctx     context.Context
	c       *cdp
	session string
}

// openPanel starts chromium, opens url in a 1280×900 tab and signs in with token.
func openPanel(t *testing.T, url, token string) *page {
	wsURL := startChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	// Page errors fail the test (script exceptions, CSP violations, failed loads other than API
	// refusals); console lines are logged.
	c, err := newCDP(ctx, wsURL, func(m cdpMessage) {
		text := string(m.Params)
		if len(text) > 600 {
			text = text[:600] + "…"
		}
		refusal := strings.Contains(text, `"source":"network"`) && strings.Contains(text, "/api/") // a refused API call, shown in the page
		switch {
		case m.Method == "Runtime.exceptionThrown", m.Method == "Log.entryAdded" && strings.Contains(text, `"level":"error"`) && !refusal:
			t.Errorf("page error: %s %s", m.Method, text)
		case m.Method == "Runtime.consoleAPICalled", m.Method == "Log.entryAdded":
			t.Logf("page: %s %s", m.Method, text)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ws.close() })
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, ctx: ctx, c: c, session: attached.SessionID}
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable"} {
		p.call(m, nil, nil)
	}
	p.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)
	p.call("Page.navigate", map[string]any{"url": url}, nil)
	if err := c.waitEvent(ctx, p.session, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
	// The token is entered once, in the sign-in form.
	p.wait(`document.getElementById('token')`, 5000)
	p.js(`document.getElementById('token').value = ` + jsString(token) + `; document.getElementById('signin-form').requestSubmit();`)
	p.wait(`document.body.dataset.ready === '1' && document.getElementById('live').textContent === 'live'`, 5000)
	return p
}

func (p *page) call(method string, params, result any) {
	p.t.Helper()
	if err := p.c.call(p.ctx, p.session, method, params, result); err != nil {
		p.t.Fatal(err)
	}
}

// js runs JavaScript in the page and decodes its value into result (nil: ignore it).
func (p *page) js(expr string, result ...any) {
	p.t.Helper()
	var r any
	if len(result) > 0 {
		r = result[0]
	}
	if err := p.c.evaluate(p.ctx, p.session, expr, r); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits until the JavaScript condition holds, at most ms milliseconds.
func (p *page) wait(cond string, ms int) {
	p.t.Helper()
	if err := p.c.waitFor(p.ctx, p.session, cond, ms); err != nil {
		var text string
		_ = p.c.evaluate(p.ctx, p.session, `document.querySelector('main').innerText`, &text)
		p.shot("failed-" + strings.ReplaceAll(p.t.Name(), "/", "-") + ".png")
		p.t.Fatalf("%v\npage text:\n%s", err, text)
	}
}

// click scrolls the element selector finds into view and presses and releases the mouse on it.
func (p *page) click(selector string) {
	p.t.Helper()
	var box struct{ X, Y float64 }
	p.js(`(() => { const el = document.querySelector(`+jsString(selector)+`); el.scrollIntoView({ block: 'center' });
		const r = el.getBoundingClientRect(); return {X: r.x + r.width / 2, Y: r.y + r.height / 2}; })()`, &box)
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		p.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": box.X, "y": box.Y, "button": "left", "clickCount": 1}, nil)
	}
}

// fill types value into the input selector finds, as a person would (input events).
func (p *page) fill(selector, value string) {
	p.t.Helper()
	p.js(`(() => { const el = document.querySelector(` + jsString(selector) + `); el.focus(); el.value = ` + jsString(value) +
		`; el.dispatchEvent(new Event('input', { bubbles: true })); el.blur(); })()`)
}

// shot saves a screenshot as a test artifact.
func (p *page) shot(name string) {
	p.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	p.call("Page.captureScreenshot", map[string]any{"format": "png"}, &res)
	png, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(artifactDir(p.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

// TestBrowserHealthPanel opens the Health panel in headless chromium: a main fails → within a
// second the panel shows its backup on air; pressing Switch puts the main back, as the
// simulator's routing shows. Screenshots are saved as test artifacts.
func TestBrowserHealthPanel(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	p.wait(`document.querySelector('[data-pair="cam1"][data-on-air="main"] .machine.active[data-machine="m1"]')`, 5000)
	p.wait(`document.querySelector('[data-router="hub1"][data-conn="connected"]')`, 5000)

	// The main fails: the panel shows the backup on air within a second.
	failed := time.Now()
	if err := e.sup.SimulateService("m1", "engine", false); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('[data-pair="cam1"][data-on-air="backup"] .machine.active[data-machine="b1"]') && document.querySelector('[data-machine="m1"][data-condition="down"]')`, 1000)
	t.Logf("panel showed the backup on air %s after the main failed", time.Since(failed).Round(time.Millisecond))
	if err := e.sup.Simulator("hub1").WaitRoute(ctxFor(t, 5*time.Second), 0, 1); err != nil {
		t.Fatalf("the router does not carry the backup: %v", err)
	}
	p.shot("health-backup-active.png")

	// The main recovers (failback is manual): Switch points up at it; press it.
	if err := e.sup.SimulateService("m1", "engine", true); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('[data-machine="m1"][data-condition="ok"]') && (b => b && !b.disabled && b.dataset.to === 'main' && b.textContent.includes('↑'))(document.querySelector('[data-switch="cam1"]'))`, 5000)
	p.click(`[data-switch="cam1"]`)
	if err := e.sup.Simulator("hub1").WaitRoute(ctxFor(t, 3*time.Second), 0, 0); err != nil {
		t.Fatalf("after Switch, output 1 is not on the main's input 1: %v", err)
	}
	p.wait(`document.querySelector('[data-pair="cam1"][data-on-air="main"] .machine.active[data-machine="m1"]')`, 5000)
	p.shot("health-main-back.png")

	// Failing a machine from the panel: cut cam2's main off the network (manual mode: alarm only).
	p.click(`[data-machine="m2"] [data-sim="network"]`)
	p.wait(`document.querySelector('[data-machine="m2"][data-condition="down"]') && document.querySelector('[data-pair="cam2"] [data-alarm="on_air_failed"]') && !document.getElementById('alarmbar').hidden`, 5000)
	p.wait(`document.querySelector('[data-switch="cam2"]').classList.contains('prominent')`, 5000)
	p.shot("health-alarm.png")

	// The same panel on a tablet in portrait.
	p.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 768, "height": 1024, "deviceScaleFactor": 1, "mobile": true}, nil)
	p.wait(`document.documentElement.scrollWidth <= 768`, 5000) // nothing wider than the screen
	p.shot("health-tablet.png")
}

// TestBrowserMachinesPanel: a level 3 operator adds a backup mapping on the Machines panel; an
// invalid one shows `standby check`'s errors, a valid one is saved with its licence warning.
func TestBrowserMachinesPanel(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#machines", tokConfigure)
	p.wait(`document.querySelector('[data-mapping="cam1"]') && document.querySelector('[data-mapping="cam1"]').textContent.includes('“m1”')`, 3000)
	p.click(`#addpair button`)
	p.wait(`document.querySelector('#addpair input[placeholder="cam4"]')`, 5000)
	p.fill(`#addpair input[placeholder="cam4"]`, "cam3")
	p.fill(`#addpair input[aria-label="main_input"]`, "5")
	p.fill(`#addpair input[aria-label="backup_input"]`, "6")
	p.fill(`#addpair input[aria-label="outputs"]`, "2")
	p.wait(`document.querySelector('#addpair').textContent.includes('different licence features')`, 5000)
	p.click(`#addpair button.primary`)
	p.wait(`(el => el && el.textContent.includes('already claimed by pair "cam2"'))(document.querySelector('#addpair .error'))`, 3000)
	p.shot("machines-invalid.png")
	if mappingEdits(t, e.dir) != 0 {
		t.Error("an invalid mapping was saved")
	}
	p.fill(`#addpair input[aria-label="outputs"]`, "3")
	p.click(`#addpair button.primary`)
	p.wait(`document.querySelector('[data-mapping="cam3"]') && document.querySelector('[data-mapping="cam3"]').textContent.includes('different features')`, 3000)
	p.shot("machines.png")
	cfg, _ := saved(t, e.dir)
	if p := cfg.Pair("cam3"); p == nil || p.Main != "s1" || p.Backup != "s2" {
		t.Errorf("persisted mapping: %+v", cfg.Pairs)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowserPoolPanel: a pool of three mains and two spares on the Health panel. Two mains fail
// and each gets a spare, shown as "covering"; the third waits with no_backup_free in the alarm
// bar; an operator moves the first main back with Move To, and the freed spare goes to the waiting
// main at once.
func TestBrowserPoolPanel(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	e := startConfig(t, dir, strings.Replace(poolStudio(dir), `mode = "manual"`, `mode = "automatic"`, 1), Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	p.wait(`document.querySelector('#pool-renders #pool-renders-main-r1.active') && document.querySelector('#pool-renders-backup-spare-1[data-covering=""]')`, 5000)

	failed := time.Now()
	if err := e.sup.SimulateService("r1", "engine", false); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('#pool-renders-backup-spare-1.active[data-covering="r1"]') && document.querySelector('#pool-renders-main-r1[data-condition="down"] [data-covered-by="spare-1"]')`, 1000)
	t.Logf("panel showed spare-1 covering r1 %s after r1 failed", time.Since(failed).Round(time.Millisecond))
	if err := e.sup.SimulateService("r2", "engine", false); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('#pool-renders-backup-spare-2[data-covering="r2"]') &&
		(el => el && /^MAIN FAILED \(engine\) → ON spare-1 since \d\d:\d\d:\d\d$/.test(el.textContent))(document.querySelector('#pool-renders-main-r1 [data-headline="on-backup"]')) &&
		document.querySelector('#pool-renders [data-pool-headline="covered"]').textContent === '2 ON BACKUP' &&
		document.querySelector('#pool-renders [data-pool-headline="no-healthy-backup"]')`, 5000)
	if err := e.sup.SimulateService("r3", "engine", false); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('#pool-renders-main-r3 [data-headline="waiting"]').textContent === 'WAITING #1 — NO BACKUP FREE' &&
		document.querySelector('#pool-renders [data-pool-headline="waiting"]').textContent === '1 WAITING — NO BACKUP FREE' &&
		document.querySelector('#pool-renders-main-r3 [data-waiting="1"]') && document.querySelector('#pool-renders-main-r3 [data-alarm="no_backup_free"]') &&
		document.getElementById('alarmbar').textContent.includes('renders/r3: no backup free') && document.querySelector('[data-move="r3"]').classList.contains('prominent')`, 5000)
	p.shot("health-pool-waiting.png")

	// r1 recovers (manual failback): Move To its main; spare-1 goes to r3.
	if err := e.sup.SimulateService("r1", "engine", true); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.querySelector('#pool-renders-main-r1[data-condition="ok"]') && [...document.querySelector('[data-move-to="r1"]').options].some(o => o.value === 'main')`, 5000)
	p.js(`(() => { const s = document.querySelector('[data-move-to="r1"]'); s.value = 'main'; s.dispatchEvent(new Event('change')); })()`)
	p.click(`[data-move="r1"]`)
	if err := e.sup.Simulator("hub1").WaitRoute(ctxFor(t, 5*time.Second), 0, 0); err != nil {
		t.Fatalf("after Move To, output 1 is not on r1's input 1: %v", err)
	}
	p.wait(`document.querySelector('#pool-renders-main-r1.active') && document.querySelector('#pool-renders-backup-spare-1[data-covering="r3"]') && !document.querySelector('#pool-renders-main-r3 [data-waiting]')`, 5000)
	p.shot("health-pool-moved.png")
}

// TestBrowserActionTest: the Machines panel lists the actions; Test runs one with a sample event
// and its result shows in the table.
func TestBrowserActionTest(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	e := startConfig(t, dir, studio(dir)+`
[[action]]
name = "note"
on = ["failover"]
kind = "exec"
command = ["/bin/sh", "-c", "echo $STANDBY_EVENT $STANDBY_PAIR > `+out+`"]
`, Options{})
	p := openPanel(t, e.ctl.URL()+"/#machines", tokConfigure)
	p.wait(`document.querySelector('#actions button.test[data-action="note"]')`, 5000)
	p.click(`#actions button.test[data-action="note"]`)
	p.wait(`document.querySelector('#actions td.result') && document.querySelector('#actions td.result').textContent.startsWith('ok (test cam1')`, 5000)
	p.shot("machines-actions.png")
	if b, err := os.ReadFile(out); err != nil || string(b) != "test cam1\n" {
		t.Fatalf("the action wrote %q %v", b, err)
	}
}
