package control

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"

	"standby/conf"
	"standby/protocol/pb"
)

// Op names an operation. Its permission level is in opLevel; it is also the name in logs,
// events and metrics.
type Op string

// Operations.
const (
	OpStatus       Op = "status"
	OpWatch        Op = "watch"
	OpMetrics      Op = "metrics" // GET /metrics: machine and pair names and health values are not for anyone
	OpProfile      Op = "profile" // GET /debug/pprof/: the Go runtime's profiles of the supervisor
	OpSwitch       Op = "switch"
	OpSetMode      Op = "set_mode"
	OpSetFailback  Op = "set_failback"
	OpAcknowledge  Op = "acknowledge"
	OpSimulate     Op = "simulate"
	OpAddBackup    Op = "add_backup"
	OpRemoveBackup Op = "remove_backup"
	OpSetFeeds     Op = "set_feeds"
	OpSetPool      Op = "set_pool"
	OpRemovePool   Op = "remove_pool"
	OpMakePrimary  Op = "make_primary"
	OpResync       Op = "resync"
	OpTestAction   Op = "test_action" // run an [[action]] with a sample event
	OpReload       Op = "reload"      // read the config file again (SIGHUP)
)

// opLevel is the level each operation needs: 1 view, 2 operate, 3 configure (as Pixotope gates
// backup changes at permission level 3).
var opLevel = map[Op]int{
	OpStatus:       conf.LevelView,
	OpWatch:        conf.LevelView,
	OpMetrics:      conf.LevelView,
	OpProfile:      conf.LevelConfigure,
	OpSwitch:       conf.LevelOperate,
	OpSetMode:      conf.LevelOperate,
	OpSetFailback:  conf.LevelOperate,
	OpAcknowledge:  conf.LevelOperate,
	OpSimulate:     conf.LevelOperate,
	OpAddBackup:    conf.LevelConfigure,
	OpRemoveBackup: conf.LevelConfigure,
	OpSetFeeds:     conf.LevelConfigure,
	OpSetPool:      conf.LevelConfigure,
	OpRemovePool:   conf.LevelConfigure,
	OpMakePrimary:  conf.LevelConfigure,
	OpResync:       conf.LevelOperate,
	OpTestAction:   conf.LevelConfigure,
	OpReload:       conf.LevelConfigure,
}

// Ops lists every operation, for tests and docs.
func Ops() []Op {
	return []Op{OpStatus, OpWatch, OpSwitch, OpSetMode, OpSetFailback, OpAcknowledge, OpSimulate,
		OpAddBackup, OpRemoveBackup, OpSetFeeds, OpSetPool, OpRemovePool, OpMakePrimary, OpResync, OpTestAction, OpReload}
}

// Level is the permission level op needs.
func Level(op Op) int { return opLevel[op] }

// OpOf names the operation a request carries; false when it carries none.
func OpOf(req *pb.ControlRequest) (Op, bool) {
	switch req.GetOp().(type) {
	case *pb.ControlRequest_Status:
		return OpStatus, true
	case *pb.ControlRequest_Subscribe, *pb.ControlRequest_Unsubscribe:
		return OpWatch, true
	case *pb.ControlRequest_Switch:
		return OpSwitch, true
	case *pb.ControlRequest_SetMode:
		return OpSetMode, true
	case *pb.ControlRequest_SetFailback:
		return OpSetFailback, true
	case *pb.ControlRequest_Acknowledge:
		return OpAcknowledge, true
	case *pb.ControlRequest_Simulate:
		return OpSimulate, true
	case *pb.ControlRequest_AddBackup:
		return OpAddBackup, true
	case *pb.ControlRequest_RemoveBackup:
		return OpRemoveBackup, true
	case *pb.ControlRequest_SetFeeds:
		return OpSetFeeds, true
	case *pb.ControlRequest_SetPool:
		return OpSetPool, true
	case *pb.ControlRequest_RemovePool:
		return OpRemovePool, true
	case *pb.ControlRequest_MakePrimary:
		return OpMakePrimary, true
	case *pb.ControlRequest_Resync:
		return OpResync, true
	case *pb.ControlRequest_TestAction:
		return OpTestAction, true
	case *pb.ControlRequest_Reload:
		return OpReload, true
	}
	return "", false
}

// authenticate finds the operator whose token this is. Every operator's token is compared, each
// through a fixed-length hash, so the time taken says nothing about how much of a token matched
// or which operator it belongs to.
func authenticate(ops []conf.Operator, token string) (conf.Operator, bool) {
	if token == "" {
		return conf.Operator{}, false
	}
	given := sha256.Sum256([]byte(token))
	var found conf.Operator
	ok := 0
	for _, o := range ops {
		want := sha256.Sum256([]byte(o.Token))
		if subtle.ConstantTimeCompare(given[:], want[:]) == 1 {
			found, ok = o, 1
		}
	}
	return found, ok == 1
}

// refusal builds a reply that says why not.
func refusal(code pb.Code, format string, args ...any) *pb.ControlReply {
	return &pb.ControlReply{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func levelName(l int) string {
	switch l {
	case conf.LevelView:
		return "view"
	case conf.LevelOperate:
		return "operate"
	case conf.LevelConfigure:
		return "configure"
	}
	return fmt.Sprintf("level %d", l)
}
