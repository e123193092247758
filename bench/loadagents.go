package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/node"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

// LoadConfig configures LoadAgents (the JSON file of `standby bench agents --config`).
type LoadConfig struct {
	// Supervisor is the supervisor's remote endpoint (host:port).
	Supervisor string `json:"supervisor"`
	// Token is the supervisor's agent_token.
	Token string `json:"token"`
	// Machines are the machines to report for, one agent each.
	Machines []string `json:"machines"`
	// Interval is every agent's heartbeat interval.
	Interval time.Duration `json:"interval"`
	// Batch is how many reports go in one pb.AgentReports message, as one host carrying many
	// agents would send them (at most maxLoadBatch); 0 or 1 sends each report alone.
	Batch int `json:"batch,omitempty"`
	// CA, Cert and Key are the studio CA and one agent certificate covering every machine (a name
	// ending in *); empty: plaintext.
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
	// Intervals, when set, changes Interval while running (the overload scenario's ramp; `standby
	// bench agents` feeds it from its config file on SIGHUP). Sessions and seqs go on.
	Intervals <-chan time.Duration `json:"-"`
}

// maxLoadBatch caps a batch well below the gateway's agentgw.MaxBatch and pb.MaxFrameBytes, and
// keeps what the gateway handles in one go short (a change report waits behind at most one).
const maxLoadBatch = 100

// loadWriterBatch caps the batches per gRPC message: a supervisor that reads slowly lets the
// writer's queue grow, and protoactor sends the whole queue as one message, which past the
// supervisor's pb.MaxFrameBytes is dropped whole (lost reports, not late ones).
const loadWriterBatch = 16

// loadSlices spreads each beat's reports over this many sends, as independent agents' timers
// would be spread, instead of one burst per interval.
const loadSlices = 10

// LoadAgents reports for many machines from one process over one protoactor Remote, as that many
// agents would: every Interval, a pb.AgentReport per machine (engine up, gpu_temp normal, a fresh
// seq, the agent's session) to the supervisor's gateway, whose replies go to one sink actor. It is
// `standby bench agents`, the load of the scale sweep: the supervisor's side sees what it would see
// from real agents (reports over remote into its gateway), without a process per machine. It runs
// until ctx ends.
func LoadAgents(ctx context.Context, c LoadConfig, log zerolog.Logger) error {
	if c.Interval < time.Millisecond || c.Supervisor == "" || len(c.Machines) == 0 {
		return fmt.Errorf("load agents: need a supervisor, machines and an interval of 1ms or more")
	}
	var creds *identity.Credentials
	if c.Cert != "" {
		var err error
		if creds, err = identity.Load(identity.Files{CA: c.CA, Cert: c.Cert, Key: c.Key}, time.Now()); err != nil {
			return fmt.Errorf("load agents: %w", err)
		}
	}
	n, err := node.Start(node.Options{Listen: "127.0.0.1:0", Logger: log, TLS: creds, Dials: []identity.Role{identity.RoleSupervisor},
		WriterBatch: loadWriterBatch})
	if err != nil {
		return err
	}
	defer n.Stop()
	var accepted, refused atomic.Uint64
	// What the replies say, for the loop: whether the supervisor takes lean heartbeats, its name
	// and term and when it last answered (the agents' witness statement), and which machines it
	// asked for a full report. Replies name the report's seq only, so seqs are unique across
	// the machines and sentTo remembers, for recent ones, whose they were (seq<<24 | machine).
	var lean atomic.Bool
	var lastReply atomic.Int64
	var sup atomic.Pointer[pb.AgentReply]
	sentTo := make([]atomic.Uint64, 1<<18)
	needFull := make([]atomic.Bool, len(c.Machines))
	sink, err := n.System.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		r, ok := ctx.Message().(*pb.AgentReply)
		if !ok {
			return
		}
		if !r.Accepted {
			if refused.Add(1) == 1 {
				log.Error().Str("reason", r.Reason).Msg("supervisor refused a load agent's report")
			}
			return
		}
		accepted.Add(1)
		lean.Store(r.LeanBeats)
		lastReply.Store(time.Now().UnixNano())
		sup.Store(r)
		if r.SendFull {
			if e := sentTo[r.Seq%uint64(len(sentTo))].Load(); e>>24 == r.Seq&(1<<40-1) {
				needFull[e&(1<<24-1)].Store(true)
			}
		}
	}), "load-sink")
	if err != nil {
		return err
	}
	gw := actor.NewPID(c.Supervisor, pb.GatewayActorID)
	type agent struct {
		name    string
		session uint64
		full    uint64 // seq of the last report sent in full
	}
	agents := make([]agent, len(c.Machines))
	for i, m := range c.Machines {
		agents[i] = agent{name: m, session: randomSession()}
	}
	upSince := time.Now().UnixNano()
	var seq uint64
	log.Info().Int("agents", len(agents)).Str("address", n.Address()).Dur("interval", c.Interval).Int("batch", c.Batch).Msg("load agents running")
	every := c.Interval / loadSlices
	tick := time.NewTicker(every)
	defer tick.Stop()
	slice := 0
	// How late this process itself sent (starved of CPU on a shared host): reports it sends late
	// are late for the supervisor too, through no fault of the supervisor's.
	var maxLate time.Duration
	var lateTicks int
	last := time.Now()
	sent, since := 0, last
	for {
		select {
		case <-ctx.Done():
			log.Info().Uint64("accepted", accepted.Load()).Uint64("refused", refused.Load()).
				Float64("max_send_late_ms", float64(maxLate)/float64(time.Millisecond)).Int("sends_late_50ms", lateTicks).Msg("load agents stopped")
			return nil
		case iv := <-c.Intervals:
			if iv >= time.Millisecond {
				every = iv / loadSlices
				tick.Reset(every)
				// What was sent since the last change: past what one core of this process can
				// send, more asked for is not more sent.
				log.Info().Dur("interval", iv).Float64("reports_per_s", float64(len(agents))/iv.Seconds()).
					Float64("sent_per_s", float64(sent)/time.Since(since).Seconds()).Msg("load agents' interval changed")
				sent, since = 0, time.Now()
			}
			last = time.Now()
			continue
		case <-tick.C:
		}
		if late := time.Since(last) - every; late > 50*time.Millisecond {
			lateTicks++
			maxLate = max(maxLate, late)
			log.Warn().Float64("late_ms", float64(late)/float64(time.Millisecond)).Msg("load agents sent late (this process was starved)")
		}
		last = time.Now()
		now := last.UnixNano()
		var heard []*pb.AgentReport_Heard
		if r := sup.Load(); r != nil {
			heard = []*pb.AgentReport_Heard{{Supervisor: r.Supervisor, Active: r.Active, Term: r.Term,
				SilentMs: uint32(min(max(now-lastReply.Load(), 0)/int64(time.Millisecond), 1<<31))}}
		}
		var batch []*pb.AgentReport
		for i := slice; i < len(agents); i += loadSlices {
			a := &agents[i]
			seq++
			sent++
			sentTo[seq%uint64(len(sentTo))].Store((seq&(1<<40-1))<<24 | uint64(i))
			r := &pb.AgentReport{Machine: a.name, Token: c.Token, Session: a.session, Seq: seq, SentUnixNano: now,
				Heard: heard, SparseReplies: true}
			if lean.Load() && a.full != 0 && !needFull[i].Swap(false) {
				r.SameAs = a.full // nothing changed: as real agents do once the supervisor takes them
			} else {
				r.Services = []*pb.AgentReport_Service{{Name: "engine", Up: true, SinceUnixNano: upSince}}
				r.Health = []*pb.AgentReport_Health{{Name: healthName, Value: healthNormal, Ok: true}}
				r.AgentAddress = n.Address()
				a.full = seq
			}
			if c.Batch <= 1 {
				n.System.Root.RequestWithCustomSender(gw, r, sink)
				continue
			}
			if batch = append(batch, r); len(batch) >= min(c.Batch, maxLoadBatch) {
				n.System.Root.RequestWithCustomSender(gw, &pb.AgentReports{Reports: batch}, sink)
				batch = nil
			}
		}
		if len(batch) > 0 {
			n.System.Root.RequestWithCustomSender(gw, &pb.AgentReports{Reports: batch}, sink)
		}
		slice = (slice + 1) % loadSlices
	}
}

// LoadConfigFile reads a LoadConfig written by the bench.
func LoadConfigFile(path string) (LoadConfig, error) {
	var c LoadConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	return c, json.Unmarshal(b, &c)
}

func randomSession() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if s := binary.LittleEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}
