package agentgw

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/protocol/pb"
)

// BenchmarkReceivePath is the supervisor's side of a heartbeat, in-process: the protobuf decode
// the endpoint reader does, the gateway, and the machine actors (2000 of them, beating in turn, a
// 250 ms timeout). "inbox" is the path the supervisor runs (plain heartbeats left in the machine's
// inbox, sparse replies); "messages" is the earlier one (every report forwarded as a message and
// answered). It reports the CPU of the whole process per report (cpu-ns/report: every goroutine,
// the GC included), the figure bench/README.md compares with the sweep's CPU ÷ reports/s. The
// gRPC transport itself is not in it. batch=N decodes and delivers N reports as one
// pb.AgentReports. "lean" sends lean heartbeats (pb.AgentReport.same_as) after the first full
// report, as agents do once the supervisor takes them.
func BenchmarkReceivePath(b *testing.B) {
	for _, c := range []struct {
		name        string
		inbox, lean bool
		batch       int
	}{{"messages", false, false, 1}, {"inbox", true, false, 1}, {"inbox/batch=100", true, false, 100},
		{"lean", true, true, 1}, {"lean/batch=100", true, true, 100}} {
		b.Run(c.name, func(b *testing.B) { benchReceive(b, c.inbox, c.lean, c.batch) })
	}
}

func benchReceive(b *testing.B, inbox, lean bool, batch int) {
	const machines = 2000
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	names := make([]string, machines)
	var boxes machine.Inboxes
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
		o := machine.Options{Name: names[i], Settings: machine.Settings{Timeout: 250 * time.Millisecond}, Logger: zerolog.Nop(), Clock: clock.Real{}}
		if inbox {
			o.Inbox = boxes.Get(names[i])
		}
		if _, err := sys.Root.SpawnNamed(machine.Props(o), "standby/machines/"+names[i]); err != nil {
			b.Fatal(err)
		}
	}
	o := Options{Token: "t", Machines: names, InitiallyActive: true, Name: "sup", Logger: zerolog.Nop(), Beacon: time.Second}
	if inbox {
		o.Inboxes = &boxes
	}
	gw, err := sys.Root.SpawnNamed(Props(o), "standby/agents")
	if err != nil {
		b.Fatal(err)
	}
	sink := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	wire := func(i int, seq uint64) []byte {
		r := &pb.AgentReport{Machine: names[i], Token: "t", Session: uint64(i + 1), Seq: seq, SentUnixNano: time.Now().UnixNano(),
			Services:     []*pb.AgentReport_Service{{Name: "engine", Up: true, SinceUnixNano: 1}},
			Health:       []*pb.AgentReport_Health{{Name: "gpu_temp", Value: 60, Ok: true}},
			AgentAddress: "127.0.0.1:7401", SparseReplies: inbox}
		data, _ := proto.Marshal(r)
		return data
	}
	leanWire := func(i int) []byte {
		data, _ := proto.Marshal(&pb.AgentReport{Machine: names[i], Token: "t", Session: uint64(i + 1), SameAs: 1,
			SentUnixNano: time.Now().UnixNano(), SparseReplies: true})
		return data
	}
	// Encoded beforehand (the agent's cost, not the supervisor's), one frame per machine or batch.
	encode := func(wire func(i int) []byte) [][]byte {
		var frames [][]byte
		var group pb.AgentReports
		for i := range machines {
			if batch == 1 {
				frames = append(frames, wire(i))
				continue
			}
			var r pb.AgentReport
			_ = proto.Unmarshal(wire(i), &r)
			group.Reports = append(group.Reports, &r)
			if len(group.Reports) == batch || i == machines-1 {
				data, _ := proto.Marshal(&group)
				frames = append(frames, data)
				group.Reports = nil
			}
		}
		return frames
	}
	frames := encode(func(i int) []byte { return wire(i, 1) })
	sync := func() {
		if _, err := sys.Root.RequestFuture(gw, &GetAgent{Machine: names[0]}, time.Minute).Result(); err != nil {
			b.Fatal(err)
		}
		for _, n := range names { // each machine actor has taken what the gateway left it
			if _, err := sys.Root.RequestFuture(actor.NewPID(sys.Address(), "standby/machines/"+n), &machine.GetSnapshot{}, 10*time.Second).Result(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm up: every machine heard (no longer eager), sessions logged.
	seq := uint64(1)
	for _, f := range frames {
		deliver(sys, gw, sink, f, batch, seq)
	}
	sync()
	if lean {
		frames = encode(leanWire) // each names the full report 1 just delivered
	}
	reports := 0
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; reports < b.N; i++ {
		if i%len(frames) == 0 {
			seq++
		}
		reports += deliver(sys, gw, sink, frames[i%len(frames)], batch, seq)
	}
	sync()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(reports), "cpu-ns/report")
	var puts, merged uint64
	for _, n := range names {
		p, m := boxes.Get(n).Counts()
		puts, merged = puts+p, merged+m
	}
	if inbox && reports > 0 {
		b.ReportMetric(float64(puts)/float64(reports), "inbox/report")
	}
}

// deliver decodes a frame as the endpoint reader would, gives its reports seq (the agent's next)
// and hands it to the gateway. It returns the number of reports.
func deliver(sys *actor.ActorSystem, gw, sink *actor.PID, data []byte, batch int, seq uint64) int {
	if batch == 1 {
		var r pb.AgentReport
		if err := proto.Unmarshal(data, &r); err != nil {
			panic(err)
		}
		r.Seq = seq
		sys.Root.RequestWithCustomSender(gw, &r, sink)
		return 1
	}
	var rs pb.AgentReports
	if err := proto.Unmarshal(data, &rs); err != nil {
		panic(err)
	}
	for _, r := range rs.Reports {
		r.Seq = seq
	}
	sys.Root.RequestWithCustomSender(gw, &rs, sink)
	return len(rs.Reports)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
