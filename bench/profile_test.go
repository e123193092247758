package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/control"
	"standby/actors/failover"
	"standby/actors/pool"
	"standby/actors/supervisor"
	"standby/conf"
)

// BenchmarkSupervisorIdle runs a whole supervisor in-process with N pairs (routers simulated
// in-process) and measures what supervising costs while nothing fails: the process's CPU as a
// percentage of one core, and heap. One op is 100 ms of supervision. The machines are fed either
// by the demo driver in-process (load=demo, 50 ms) or by a `standby bench agents` child process
// over protoactor remote into the gateway (load=agents, 20 ms; its CPU is not counted). Profile
// the supervisor with
//
//	go test ./bench -run x -bench 'SupervisorIdle/load=agents/pairs=100$' -benchtime 30x -cpuprofile cpu.out
//	go tool pprof -top -nodecount 40 bench.test cpu.out
func BenchmarkSupervisorIdle(b *testing.B) {
	for _, load := range []string{"demo", "agents"} {
		for _, n := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("load=%s/pairs=%d", load, n), func(b *testing.B) { benchIdle(b, load, n) })
		}
	}
}

// benchIdle supervises n pairs whose machines are fed by the demo driver in-process at 50 ms
// (load "demo") or by a `standby bench agents` child process over remote into the gateway at
// the sweep's 20 ms (load "agents").
func benchIdle(b *testing.B, load string, n int) {
	routers := make([]string, routerCount(n))
	for i := range routers {
		routers[i] = "127.0.0.1:0"
	}
	token := secret()
	text := supervisorTOML(supConfig{pairs: n, simulated: func(int) bool { return load == "demo" }, routers: routers,
		http: "127.0.0.1:0", stateDir: b.TempDir(), heartbeatTimeout: DefaultHeartbeatTimeout, agentToken: token,
		operatorToken: secret(), failbackAfter: DefaultFailbackAfter, pingInterval: defaultPingInterval, simulateRouters: true})
	cfg, err := conf.Parse([]byte(text))
	if err != nil {
		b.Fatal(err)
	}
	// Info level into a discarded writer: the JSON formatting a real supervisor pays.
	// STANDBY_BENCH_LOG=FILE keeps the log for a failure's post-mortem.
	var w io.Writer = io.Discard
	if path := os.Getenv("STANDBY_BENCH_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		w = f
	}
	log := zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	opts := supervisor.Options{Config: cfg, Logger: log}
	if load == "agents" {
		// As `standby run`: a remote endpoint (the gateway) and the control surfaces.
		opts.Listen = "127.0.0.1:0"
		opts.OnStart = control.Attach(control.Options{Logger: log, HTTP: "127.0.0.1:0"})
	}
	s, err := supervisor.Start(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop()
	if opts.OnStart != nil {
		stop, err := opts.OnStart(s)
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
	}
	// Count pairs arming from the event stream (subscribed before any machine reports).
	armedCh := make(chan struct{}, n)
	sub := s.System().EventStream.Subscribe(func(evt interface{}) {
		if e, ok := evt.(*pool.Event); ok {
			if tr, ok := e.Action.(failover.Transition); ok && tr.From == failover.Unarmed && tr.To == failover.OnMain {
				armedCh <- struct{}{}
			}
		}
	})
	defer s.System().EventStream.Unsubscribe(sub)
	var deadMu sync.Mutex
	var dead []string // messages that reached no actor, for a failure report
	dsub := s.System().EventStream.Subscribe(func(evt interface{}) {
		if d, ok := evt.(*actor.DeadLetterEvent); ok {
			deadMu.Lock()
			if len(dead) < 20 {
				dead = append(dead, fmt.Sprintf("%T to %v", d.Message, d.PID))
			}
			deadMu.Unlock()
		}
	})
	defer s.System().EventStream.Unsubscribe(dsub)
	if load == "agents" {
		var machines []string
		for i := range n {
			machines = append(machines, pairAt(i).main, pairAt(i).backup)
		}
		dir := b.TempDir()
		cfgPath := filepath.Join(dir, "load.json")
		js, _ := json.Marshal(LoadConfig{Supervisor: s.Address(), Token: token, Machines: machines, Interval: DefaultSweepHeartbeat})
		if err := os.WriteFile(cfgPath, js, 0o600); err != nil {
			b.Fatal(err)
		}
		var p procs
		defer p.close(time.Second)
		if _, err := p.start(childSpec{name: "load", path: standbyBinary(b), args: []string{"bench", "agents", "--config", cfgPath},
			logPath: filepath.Join(dir, "load.log")}); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.After(30 * time.Second)
	for armed := 0; armed < n; armed++ {
		select {
		case <-armedCh:
		case <-deadline:
			deadMu.Lock()
			buf := make([]byte, 64<<20)
			stacks := buf[:runtime.Stack(buf, true)]
			_ = os.WriteFile(filepath.Join(os.TempDir(), "standby-unarmed-stacks.txt"), stacks, 0o644)
			b.Fatalf("%d of %d pairs armed after 30 s; not armed: %s; dead letters: %v; all goroutines in %s",
				armed, n, unarmed(s), dead, filepath.Join(os.TempDir(), "standby-unarmed-stacks.txt"))
		}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(100 * time.Millisecond)
	}
	b.StopTimer()
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	b.ReportMetric(100*float64(cpu)/float64(wall), "cpu-%")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// unarmed describes the pairs still unarmed: what their engines and machines say, or, for a pair
// that does not answer, its mailbox's counters (read through reflection: a post-mortem only).
func unarmed(s *supervisor.Supervisor) string {
	var out []string
	for _, p := range s.Config().Pairs {
		pid := s.PID(supervisor.PoolsDir, p.Name)
		res, err := s.System().Root.RequestFuture(pid, &pool.GetStatus{}, 2*time.Second).Result()
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v; mailbox %s", p.Name, err, mailboxState(s.System(), pid)))
			continue
		}
		if v := res.(*pool.View); v.Slots[0].State == failover.Unarmed {
			out = append(out, fmt.Sprintf("%s: unarmed, engine sees %+v", p.Name, v.Conditions))
		}
	}
	return strings.Join(out, "; ")
}

func mailboxState(sys *actor.ActorSystem, pid *actor.PID) string {
	proc, ok := sys.ProcessRegistry.Get(pid)
	if !ok {
		return "not registered"
	}
	ap, ok := proc.(*actor.ActorProcess)
	if !ok {
		return fmt.Sprintf("process %T", proc)
	}
	mb := reflect.ValueOf(ap).Elem().FieldByName("mailbox").Elem()
	if mb.Kind() == reflect.Pointer {
		mb = mb.Elem()
	}
	var parts []string
	for _, f := range []string{"schedulerStatus", "userMessages", "sysMessages", "suspended"} {
		if v := mb.FieldByName(f); v.IsValid() {
			parts = append(parts, fmt.Sprintf("%s=%d", f, v.Int()))
		}
	}
	return strings.Join(parts, " ")
}
