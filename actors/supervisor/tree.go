package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/node"
)

// The supervision tree:
//
//	standby                root: spawns the groups, restarts a group that fails
//	├── machines/<name>    one machine actor per [[machine]]
//	├── routers/<name>     one router actor per [[router]]
//	├── pairs/<name>       one pair actor per [[pair]]
//	├── agents             the agent gateway (remote endpoint for agents)
//	└── demo               drives simulated machines (demo studio only)
//
// Each group supervises its children one-for-one: a panic restarts only that child, from the
// state its box kept, and never touches its siblings.
const (
	RootName    = "standby"
	MachinesDir = "machines"
	RoutersDir  = "routers"
	PoolsDir    = "pools"
)

// spawnChild asks a group to spawn (or replace) a named child; answered with spawned.
type spawnChild struct {
	name  string
	props *actor.Props
	// mailbox, when set, replaces node.GuardedMailbox (it must hold what is posted before Start
	// as that does: the gateway's bounded one wraps it).
	mailbox actor.MailboxProducer
}

type spawned struct {
	pid *actor.PID
	err error
}

// stopChild asks a group to stop a named child and answers when it has stopped.
type stopChild struct{ name string }

type stopped struct{}

// childStrategy restarts a failed child, up to 10 times in 10 s; past that the child stays
// stopped and the failure is logged, because a child that panics in a loop would starve the others.
func childStrategy() actor.SupervisorStrategy {
	return actor.NewOneForOneStrategy(10, 10*time.Second, func(reason interface{}) actor.Directive {
		return actor.RestartDirective
	})
}

// groupActor owns one kind of children. Replacing or stopping a child waits for its Terminated
// before the name is used again: protoactor keys its child set by PID, so a successor spawned
// under the same name before the old child's Terminated was handled would be dropped from it.
type groupActor struct {
	children map[string]*actor.PID
	// waiting holds what to do once the named child has terminated.
	waiting map[string][]func(ctx actor.Context)
}

func newGroup() groupActor {
	return groupActor{children: map[string]*actor.PID{}, waiting: map[string][]func(actor.Context){}}
}

func groupProps() *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor { g := newGroup(); return &g }, actor.WithSupervisor(childStrategy()),
		actor.WithMailbox(node.GuardedMailbox))
}

func (g *groupActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *spawnChild:
		sender := ctx.Sender()
		spawn := func(ctx actor.Context) {
			// Named children are addressed by name from the instant they exist (routers, machines and
			// the network send to pairs at any time): see node.GuardedMailbox.
			mailbox := msg.mailbox
			if mailbox == nil {
				mailbox = node.GuardedMailbox
			}
			pid, err := ctx.SpawnNamed(msg.props.Configure(actor.WithMailbox(mailbox), actor.WithDispatcher(node.Dispatcher)), msg.name)
			if err == nil {
				g.children[msg.name] = pid
			}
			ctx.Send(sender, &spawned{pid: pid, err: err})
		}
		g.afterStop(ctx, msg.name, spawn)
	case *whenReady: // Alive's ping
		ctx.Respond(&whenReady{})
	case *stopChild:
		sender := ctx.Sender()
		g.afterStop(ctx, msg.name, func(ctx actor.Context) { ctx.Send(sender, &stopped{}) })
	case *actor.Terminated:
		name := strings.TrimPrefix(msg.Who.Id, ctx.Self().Id+"/")
		if pid, ok := g.children[name]; ok && pid.Equal(msg.Who) {
			delete(g.children, name)
		}
		then := g.waiting[name]
		delete(g.waiting, name)
		for _, f := range then {
			f(ctx)
		}
	}
}

// afterStop runs then once no child of that name is alive, stopping the current one first.
func (g *groupActor) afterStop(ctx actor.Context, name string, then func(actor.Context)) {
	if _, pending := g.waiting[name]; pending {
		g.waiting[name] = append(g.waiting[name], then)
		return
	}
	pid, ok := g.children[name]
	if !ok {
		then(ctx)
		return
	}
	g.waiting[name] = []func(actor.Context){then}
	ctx.Stop(pid)
}

// whenReady is answered by the root once its groups exist (Started is handled first).
type whenReady struct{}

// rootProps is a group whose first children are the machine, router and pair groups.
func rootProps(log zerolog.Logger) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &rootActor{groupActor: newGroup(), log: log}
	},
		actor.WithSupervisor(childStrategy()), actor.WithMailbox(node.GuardedMailbox))
}

type rootActor struct {
	groupActor
	log zerolog.Logger
}

func (r *rootActor) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		for _, name := range []string{MachinesDir, RoutersDir, PoolsDir} {
			pid, err := ctx.SpawnNamed(groupProps(), name)
			if err != nil {
				r.log.Error().Err(err).Str("group", name).Msg("cannot spawn group")
				continue
			}
			r.children[name] = pid
		}
	case *whenReady:
		ctx.Respond(&whenReady{})
	default:
		r.groupActor.Receive(ctx)
	}
}

// spawnIn spawns a named child in a group and waits for its PID.
func spawnIn(sys *actor.ActorSystem, group *actor.PID, name string, props *actor.Props, mailbox ...actor.MailboxProducer) (*actor.PID, error) {
	c := &spawnChild{name: name, props: props}
	if len(mailbox) > 0 {
		c.mailbox = mailbox[0]
	}
	res, err := sys.Root.RequestFuture(group, c, 5*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("spawn %s/%s: %w", group.Id, name, err)
	}
	s, ok := res.(*spawned)
	if !ok {
		return nil, errors.New("spawn: unexpected reply")
	}
	if s.err != nil {
		return nil, fmt.Errorf("spawn %s/%s: %w", group.Id, name, s.err)
	}
	return s.pid, nil
}

// stopIn stops a named child of a group and waits until it has stopped.
func stopIn(sys *actor.ActorSystem, group *actor.PID, name string) {
	_, _ = sys.Root.RequestFuture(group, &stopChild{name: name}, 5*time.Second).Result()
}
