package supervisor

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/conf"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

// demoAgent is a real `standby agent` process with simulated services, run by the demo studio
// for one simulated machine, so the demo exercises the same path as a studio: agent process,
// protoactor remote, gateway, machine actor.
type demoAgent struct {
	cmd    *exec.Cmd
	pid    *actor.PID    // the agent's actor, for SimSet
	exited chan struct{} // closed once the process has been reaped
}

// startDemoAgents starts (or keeps) one agent process per simulated machine and stops the
// agents of machines no longer simulated. It runs only with a remote endpoint and an agent binary.
func (s *Supervisor) startDemoAgents(cfg *conf.Config) error {
	if s.node == nil || s.opts.AgentBinary == "" {
		return nil
	}
	if s.agents == nil {
		s.agents = map[string]*demoAgent{}
	}
	want := map[string]*conf.Machine{}
	for i := range cfg.Machines {
		if m := &cfg.Machines[i]; m.Simulated {
			want[m.Name] = m
		}
	}
	for name, a := range s.agents {
		if want[name] == nil {
			a.stop()
			delete(s.agents, name)
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if s.agents[name] != nil {
			continue
		}
		a, err := s.spawnDemoAgent(cfg, want[name])
		if err != nil {
			return fmt.Errorf("demo agent %q: %w", name, err)
		}
		s.agents[name] = a
	}
	return nil
}

func (s *Supervisor) spawnDemoAgent(cfg *conf.Config, m *conf.Machine) (*demoAgent, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	text := fmt.Sprintf("name = %q\nsupervisors = [%q]\nlisten = %q\ntoken = %q\nheartbeat_interval = %q\n"+
		"[[service]]\nname = \"engine\"\nkind = \"sim\"\n[[service]]\nname = \"videoio\"\nkind = \"sim\"\n",
		m.Name, s.sys.Address(), addr, cfg.Supervisor.AgentToken, demoBeat.String())
	for _, h := range sortedNames(m.Health) {
		text += fmt.Sprintf("[[health]]\nname = %q\nsim = 55.0\n", h)
	}
	if cfg.TLS.Enabled() {
		crt, key, err := demoAgentCert(cfg, m.Name, s.opts.Clock.Now())
		if err != nil {
			return nil, err
		}
		text += fmt.Sprintf("[tls]\nca = %q\ncert = %q\nkey = %q\n", cfg.TLS.CA, crt, key)
	}
	dir, err := os.MkdirTemp("", "standby-demo-agent")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, m.Name+".toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.opts.AgentBinary, "agent", "--config", path, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// The agents die with the supervisor, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); os.RemoveAll(dir); close(exited) }()
	s.log.Info().Str("machine", m.Name).Int("pid", cmd.Process.Pid).Str("agent", addr).Msg("demo agent started (simulated services)")
	return &demoAgent{cmd: cmd, pid: actor.NewPID(addr, pb.AgentActorID), exited: exited}, nil
}

// demoAgentCert finds or issues the certificate of a demo agent: next to the studio CA, issued
// with its key when it is there (generate, or a CA directory of a lab).
func demoAgentCert(cfg *conf.Config, machine string, now time.Time) (crt, key string, err error) {
	dir := filepath.Dir(cfg.TLS.CA)
	crt, key = identity.CertFiles(dir, machine)
	if _, err := os.Stat(filepath.Join(dir, identity.CAKeyFile)); err != nil {
		if _, err := os.Stat(crt); err == nil {
			return crt, key, nil
		}
		return "", "", fmt.Errorf("no certificate %s for the demo agent and no CA key in %s to issue one (standby certs issue --dir %s --agent %s)", crt, dir, dir, machine)
	}
	return identity.Ensure(dir, identity.IssueOptions{Role: identity.RoleAgent, Names: []string{machine}}, now)
}

// set applies a simulated change through the agent: SimSet over remote, or SIGSTOP/SIGCONT of the
// agent process for network silence, exactly what a stalled machine looks like to the supervisor.
func (a *demoAgent) set(sys *actor.ActorSystem, token string, m *simSet) error {
	if m.silent != nil {
		sig := syscall.SIGCONT
		if *m.silent {
			sig = syscall.SIGSTOP
		}
		return a.cmd.Process.Signal(sig)
	}
	req := &pb.SimSet{Token: token}
	if m.service != "" {
		req.Services = []*pb.SimSet_Service{{Name: m.service, Up: m.up}}
	} else {
		req.Health = []*pb.SimSet_Health{{Name: m.health, Value: m.value}}
	}
	res, err := sys.Root.RequestFuture(a.pid, req, 2*time.Second).Result()
	if err != nil {
		return fmt.Errorf("agent does not answer: %w", err)
	}
	if r, ok := res.(*pb.SimSetReply); !ok || !r.Accepted {
		return fmt.Errorf("agent refused: %v", res)
	}
	return nil
}

func (a *demoAgent) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGCONT)
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
}
