package control

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The Health panel's promises to an operator on air (issue 12): it never shows stale state as
// live, says every pair state in words, tells alarm states apart, and keeps edits to what they
// change. Each test saves screenshots of what it checks as CI artifacts.

// TestBrowserNoContact: the router goes away, and the pairs' cards say they cannot switch; then
// the supervisor's control surfaces stop, and the panel greys out under the banner, with nothing
// on it still claiming a connected router or a fresh heartbeat.
func TestBrowserNoContact(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	p.wait(`document.querySelector('[data-router="hub1"][data-conn="connected"]') && document.querySelector('[data-headline="on-main"]')`, 5000)
	_ = e.sup.Simulator("hub1").Close()
	p.wait(`['cam1', 'cam2'].every(n => (el => el && / — cannot switch$/.test(el.textContent))(document.querySelector('[data-pair="' + n + '"] [data-router-down="hub1"]')) &&
		document.querySelector('[data-switch="' + n + '"]').disabled && document.querySelector('[data-why="' + n + '"]').textContent.startsWith('Router hub1 is '))`, 5000)
	p.shot("health-router-down.png")
	e.ctl.Stop()
	p.wait(`!document.getElementById('nocontact').hidden && document.body.classList.contains('no-contact')`, 5000)
	var banner string
	p.js(`document.getElementById('nocontact').textContent`, &banner)
	if !regexp.MustCompile(`^NO CONTACT WITH SUPERVISOR — state shown is from \d\d:\d\d:\d\d\.\d{3}$`).MatchString(banner) {
		t.Errorf("banner: %q", banner)
	}
	// Every age counts on from the last contact, past the 2 s that make it stale.
	p.wait(`[...document.querySelectorAll('[data-age-ms]')].every(el => (m => m && Number(m[1]) >= 2)(/^heard (\d+\.\d) s ago$/.exec(el.textContent)))`, 5000)
	// The event log is history (each line has its time); everything else is the present.
	var present string
	p.js(`[...document.querySelectorAll('header, #alarmbar, #pairs, #pools')].map(el => el.innerText).join('\n')`, &present)
	if strings.Contains(present, "connected") || regexp.MustCompile(`heard \d+ ms ago`).MatchString(present) {
		t.Errorf("the page still claims a connection or a fresh heartbeat:\n%s", present)
	}
	var heard string
	p.js(`document.querySelector('[data-machine="m1"] .heard').textContent`, &heard)
	p.wait(`document.querySelector('[data-machine="m1"] .heard').textContent !== `+jsString(heard), 3000) // it keeps counting
	var filter, disabled string
	p.js(`getComputedStyle(document.querySelector('main')).filter + ' ' + getComputedStyle(document.querySelector('header')).filter`, &filter)
	p.js(`[...document.querySelectorAll('[data-switch]')].map(b => b.disabled + ':' + b.title).join(', ')`, &disabled)
	if strings.Count(filter, "grayscale(1)") != 2 || strings.Contains(disabled, "false") || !strings.Contains(disabled, "No contact with the supervisor") {
		t.Errorf("filter %q, switch buttons %q", filter, disabled)
	}
	p.shot("health-no-contact.png")
}

// pairStudio is the test studio with a router that waits 3 s for a confirmation, so a switch the
// simulated router answers late is seen switching.
func pairStudio(dir string) string {
	return strings.Replace(studio(dir), "inputs = 12\noutputs = 12\n", "inputs = 12\noutputs = 12\nconfirm_timeout = \"3s\"\n", 1)
}

// TestBrowserPairStates: each state of a pair in words in its header, with a screenshot of each;
// the Switch button refuses a critical target in words; the Machines panel shows what is on air.
func TestBrowserPairStates(t *testing.T) {
	needChromium(t)
	dir := t.TempDir()
	e := startConfig(t, dir, pairStudio(dir), Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	head := func(kind, text string) string {
		return `(el => el && el.textContent === ` + jsString(text) + `)(document.querySelector('[data-pair="cam1"] .headline[data-headline="` + kind + `"]'))`
	}
	p.wait(head("on-main", "ON MAIN"), 5000)
	p.shot("health-state-on-main.png")

	// A critical backup: its card says what is critical, Switch says why it does not switch.
	if err := e.sup.SimulateHealth("b1", "gpu_temp", 93); err != nil {
		t.Fatal(err)
	}
	p.wait(head("no-healthy-backup", "ON MAIN — NO HEALTHY BACKUP (b1 critical: gpu_temp 93 (≥ 90))")+` &&
		document.querySelector('[data-cond="b1"]').textContent === 'critical: gpu_temp 93 (≥ 90)' &&
		document.querySelector('[data-switch="cam1"]').disabled &&
		document.querySelector('[data-why="cam1"]').textContent === 'b1 is critical: gpu_temp 93 (≥ 90)'`, 5000)
	p.shot("health-state-no-healthy-backup.png")
	if err := e.sup.SimulateHealth("b1", "gpu_temp", 55); err != nil {
		t.Fatal(err)
	}
	p.wait(head("on-main", "ON MAIN")+` && !document.querySelector('[data-switch="cam1"]').disabled`, 5000)

	// Failback automatic, then the main fails while the router answers late: SWITCHING…, then on
	// the backup with the cause and the time.
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/failback", tokOperate, `{"failback":"automatic"}`); status != 200 {
		t.Fatalf("failback: %d %v", status, reply)
	}
	e.sup.Simulator("hub1").SetAckDelay(1500 * time.Millisecond)
	if err := e.sup.SimulateService("m1", "engine", false); err != nil {
		t.Fatal(err)
	}
	p.wait(head("switching", "SWITCHING…"), 5000)
	p.shot("health-state-switching.png")
	e.sup.Simulator("hub1").SetAckDelay(0)
	p.wait(`(el => el && /^MAIN FAILED \(engine\) → ON BACKUP since \d\d:\d\d:\d\d$/.test(el.textContent))(document.querySelector('[data-pair="cam1"] .headline[data-headline="on-backup"]'))`, 5000)
	p.shot("health-state-main-failed.png")

	// The main is back: the automatic failback counts down.
	if err := e.sup.SimulateService("m1", "engine", true); err != nil {
		t.Fatal(err)
	}
	p.wait(`(el => el && /^FAILBACK IN \d+ s$/.test(el.textContent))(document.querySelector('[data-pair="cam1"] [data-failback-at]'))`, 5000)
	var first string
	p.js(`document.querySelector('[data-pair="cam1"] [data-failback-at]').textContent`, &first)
	p.wait(`(el => el && el.textContent !== `+jsString(first)+`)(document.querySelector('[data-pair="cam1"] [data-failback-at]'))`, 3000)
	p.shot("health-state-failback.png")

	// The Switch buttons line up whatever the headers wrap to.
	var tops []float64
	p.js(`[...document.querySelectorAll('[data-switch]')].map(b => b.getBoundingClientRect().top)`, &tops)
	if len(tops) != 2 || tops[0] != tops[1] {
		t.Errorf("Switch buttons at %v", tops)
	}
	p.js(`location.hash = '#machines'`)
	p.wait(`(el => el && el.textContent === 'b1 (backup)')(document.querySelector('[data-on-air-of="cam1"]'))`, 5000)
}

// TestBrowserAlarmStates: an active alarm is red, acknowledged-still-active amber, cleared but not
// acknowledged outlined grey with its time; each is acknowledged from the alarm bar, which stays
// on screen when the page scrolls, also at 800 px.
func TestBrowserAlarmStates(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	bar := func(state, when string) string {
		return `(el => el && /` + when + `/.test(el.querySelector('.when').textContent))(document.querySelector('#alarmbar .alarm.` + state + `[data-who="cam2"][data-alarm="on_air_failed"]'))`
	}
	// cam2 is manual: its main's loss is an alarm.
	if err := e.sup.SimulateSilence("m2", true); err != nil {
		t.Fatal(err)
	}
	p.wait(bar("active", `^since \d\d:\d\d:\d\d$`), 5000)
	p.click(`#alarmbar [data-ack="cam2"][data-alarm="on_air_failed"]`)
	p.wait(bar("acked", `^acknowledged, still active since \d\d:\d\d:\d\d$`)+` && !document.querySelector('#alarmbar [data-ack="cam2"]')`, 5000)
	p.shot("health-alarm-acknowledged.png")
	if err := e.sup.SimulateSilence("m2", false); err != nil {
		t.Fatal(err)
	}
	p.wait(`!document.querySelector('#alarmbar [data-who="cam2"]')`, 5000) // acknowledged and cleared: gone
	if err := e.sup.SimulateSilence("m2", true); err != nil {
		t.Fatal(err)
	}
	p.wait(bar("active", `^since`), 5000)
	if err := e.sup.SimulateSilence("m2", false); err != nil {
		t.Fatal(err)
	}
	p.wait(bar("cleared", `^cleared \d\d:\d\d:\d\d, acknowledge$`)+` && document.querySelector('#alarmbar [data-ack="cam2"][data-alarm="on_air_failed"]')`, 5000)
	p.shot("health-alarm-cleared.png")

	// At 800 px: nothing wider than the window, and the bar stays in view at the bottom of the page.
	p.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 800, "height": 600, "deviceScaleFactor": 1, "mobile": false}, nil)
	p.wait(`document.documentElement.scrollWidth <= 800 && document.querySelector('header').scrollWidth <= 800`, 5000)
	p.shot("health-800px.png")
	p.js(`window.scrollTo(0, document.documentElement.scrollHeight)`)
	p.wait(`(r => r.top >= 0 && r.bottom <= innerHeight)(document.getElementById('alarmbar').getBoundingClientRect())`, 3000)
	p.shot("health-800px-scrolled.png")
	p.click(`#alarmbar [data-ack="cam2"][data-alarm="on_air_failed"]`)
	p.wait(`!document.querySelector('#alarmbar [data-who="cam2"]')`, 5000)
}

// TestBrowserRemoveBackupKeepsPair: on the Machines panel, removing cam1's backup keeps cam1 in its
// place with its mode; adding one again is an edit of cam1; a refused edit shows its error once,
// in cam1's card, on the field.
func TestBrowserRemoveBackupKeepsPair(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/mode", tokOperate, `{"mode":"manual"}`); status != 200 {
		t.Fatalf("mode: %d %v", status, reply)
	}
	p := openPanel(t, e.ctl.URL()+"/#machines", tokConfigure)
	p.wait(`document.querySelector('[data-edit="cam1"]')`, 5000)
	p.js(`window.confirm = () => true`)
	p.click(`[data-edit="cam1"]`)
	p.wait(`document.querySelector('[data-mapping="cam1"] button.danger')`, 3000)
	p.click(`[data-mapping="cam1"] button.danger`)
	order := `[...document.querySelectorAll('[data-mapping]')].map(el => el.dataset.mapping).join(' ') === 'cam1 cam2'`
	p.wait(order+` && document.querySelector('[data-mapping="cam1"]').textContent.includes('none (main unprotected)') &&
		document.querySelector('[data-mapping="cam1"] [data-policy="mode"]').value === 'manual'`, 5000)
	p.shot("machines-backup-removed.png")
	p.js(`location.hash = '#health'`)
	p.wait(`(el => el && el.textContent === 'NO BACKUP — m1 unprotected')(document.querySelector('[data-pair="cam1"] [data-headline="no-backup"]'))`, 3000)
	p.js(`location.hash = '#machines'`)

	p.wait(`document.querySelector('[data-edit="cam1"]')`, 3000)
	p.click(`[data-edit="cam1"]`)
	p.wait(`document.querySelector('[data-mapping="cam1"] button.primary')`, 3000)
	p.fill(`[data-mapping="cam1"] input[aria-label="outputs"]`, "2")
	p.click(`[data-mapping="cam1"] button.primary`)
	want := `cam1 · feed 1 · Outputs: output 2 of router "hub1" is already claimed by pair "cam2"`
	p.wait(`(el => el && el.textContent === `+jsString(want)+`)(document.querySelector('[data-errors-of="cam1"]')) &&
		document.querySelector('[data-mapping="cam1"] input[aria-label="outputs"]').classList.contains('invalid')`, 5000)
	var shown int
	p.js(`[...document.querySelectorAll('body *')].filter(el => el.children.length === 0 && el.textContent.includes('already claimed')).length`, &shown)
	if shown != 1 {
		t.Errorf("the error is shown %d times", shown)
	}
	p.shot("machines-edit-error.png")
	p.fill(`[data-mapping="cam1"] input[aria-label="outputs"]`, "1")
	p.click(`[data-mapping="cam1"] button.primary`)
	p.wait(order+` && (el => el && el.textContent === 'm1 (main)')(document.querySelector('[data-on-air-of="cam1"]')) &&
		document.querySelector('[data-mapping="cam1"] [data-policy="mode"]').value === 'manual'`, 5000)
	if pr := pairOf(e.status(), "cam1"); pr.Backup != "b1" || pr.Mode != "manual" {
		t.Errorf("cam1 after adding its backup again: backup %q mode %q", pr.Backup, pr.Mode)
	}
}

// TestBrowserEventHistory: the event log shows the supervisor's past events after a reload, with
// 24-hour times in milliseconds, in English, and repeats collapsed.
func TestBrowserEventHistory(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	p.click(`[data-switch="cam1"]`)
	p.wait(`[...document.querySelectorAll('#log li')].some(li => / operator otto switched cam1 to backup — /.test(li.textContent))`, 5000)
	p.call("Page.reload", nil, nil)
	if err := p.c.waitEvent(p.ctx, p.session, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}
	p.wait(`document.body.dataset.ready === '1' && [...document.querySelectorAll('#log li')].some(li => /^\d\d:\d\d:\d\d\.\d{3} operator otto switched cam1 to backup — /.test(li.textContent)) &&
		[...document.querySelectorAll('#log li')].some(li => /^\d\d:\d\d:\d\d\.\d{3} cam1 on backup \(b1\) because of operator, switched in /.test(li.textContent))`, 5000)
	var collapsed string
	p.js(`(() => { const ev = (s) => ({ seq: s, kind: 'alarm', pair: 'cam3', alarm: 'switch_failed', time: new Date(Date.UTC(2026, 0, 1, 6, 0, s)).toISOString() });
		const g = collapse([ev(33), ev(17), ev(0)]); return g.length + ' ' + eventText(g[0].e, g[0]).replace(/^\S+ /, ''); })()`, &collapsed)
	if collapsed != "1 switch_failed ×3 in 33 s (cam3)" {
		t.Errorf("collapsed: %q", collapsed)
	}
	p.shot("health-events.png")
}
