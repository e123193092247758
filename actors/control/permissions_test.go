package control

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/conf"
	"standby/protocol/pb"
)

// opCase is one operation as each surface sends it, and its answer when the level suffices.
type opCase struct {
	op                 Op
	method, path, body string
	req                func(sub *actor.PID) *pb.ControlRequest
	allowed            pb.Code
}

// matrixOps run in this order on one supervisor per token; each allowed one leaves a state the
// next one can run in. An allowed mapping edit (level 3) runs on a supervisor of its own: each
// edit reloads the tree, and the tree replaces a child only once per name (see
// TestMappingEditsInARow).
var matrixOps = []opCase{
	{OpStatus, "GET", "/api/status", "", func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}}
	}, pb.Code_CODE_OK},
	{OpWatch, "GET", "/api/events", "", func(sub *actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Subscribe{Subscribe: &pb.ControlRequest_SubscribeOp{Address: sub.Address, Id: sub.Id}}}
	}, pb.Code_CODE_OK},
	{OpSwitch, "POST", "/api/pairs/cam1/switch", `{"to":"backup"}`, func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Switch{Switch: &pb.ControlRequest_SwitchOp{Pair: "cam1", To: "backup"}}}
	}, pb.Code_CODE_OK},
	{OpSetMode, "POST", "/api/pairs/cam2/mode", `{"mode":"automatic"}`, func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetMode{SetMode: &pb.ControlRequest_SetModeOp{Pair: "cam2", Mode: "automatic"}}}
	}, pb.Code_CODE_OK},
	{OpSetFailback, "POST", "/api/pairs/cam1/failback", `{"failback":"automatic"}`, func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetFailback{SetFailback: &pb.ControlRequest_SetFailbackOp{Pair: "cam1", Failback: "automatic"}}}
	}, pb.Code_CODE_OK},
	{OpAcknowledge, "POST", "/api/pairs/cam1/acknowledge", `{"alarm":"flap_guard"}`, func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: &pb.ControlRequest_AcknowledgeOp{Pair: "cam1", Alarm: "flap_guard"}}}
	}, pb.Code_CODE_NO_ALARM},
	{OpSimulate, "POST", "/api/machines/s1/simulate", `{"service":"videoio","up":false}`, func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Simulate{Simulate: &pb.ControlRequest_SimulateOp{Machine: "s1", Service: "videoio"}}}
	}, pb.Code_CODE_OK},
	{OpAddBackup, "PUT", "/api/pairs/cam3/backup", `{"backup":"s2","main":"s1","feeds":[{"main_input":"5","backup_input":"6","outputs":["3"]}]}`,
		func(*actor.PID) *pb.ControlRequest {
			return &pb.ControlRequest{Op: &pb.ControlRequest_AddBackup{AddBackup: &pb.ControlRequest_AddBackupOp{Pair: "cam3", Backup: "s2", Main: "s1",
				Feeds: []*pb.Feed{{MainInput: "5", BackupInput: "6", Outputs: []string{"3"}}}}}}
		}, pb.Code_CODE_OK},
	{OpSetFeeds, "PUT", "/api/pairs/cam1/feeds", `{"feeds":[{"main_input":"1","backup_input":"2","outputs":["1","4"]}]}`,
		func(*actor.PID) *pb.ControlRequest {
			return &pb.ControlRequest{Op: &pb.ControlRequest_SetFeeds{SetFeeds: &pb.ControlRequest_SetFeedsOp{Pair: "cam1",
				Feeds: []*pb.Feed{{MainInput: "1", BackupInput: "2", Outputs: []string{"1", "4"}}}}}}
		}, pb.Code_CODE_OK},
	{OpRemoveBackup, "DELETE", "/api/pairs/cam2/backup", "", func(*actor.PID) *pb.ControlRequest {
		return &pb.ControlRequest{Op: &pb.ControlRequest_RemoveBackup{RemoveBackup: &pb.ControlRequest_RemoveBackupOp{Pair: "cam2"}}}
	}, pb.Code_CODE_OK},
}

var httpOf = map[pb.Code]int{
	pb.Code_CODE_OK:                http.StatusOK,
	pb.Code_CODE_UNAUTHENTICATED:   http.StatusUnauthorized,
	pb.Code_CODE_PERMISSION_DENIED: http.StatusForbidden,
	pb.Code_CODE_NO_ALARM:          http.StatusConflict,
}

// TestPermissionMatrix runs every operation with no token, a wrong token and each level, through
// the HTTP gateway and through the remote control actor (the service layer the remote API uses).
// Refusals must change nothing; both surfaces must answer alike.
func TestPermissionMatrix(t *testing.T) {
	tokens := []struct {
		name, token string
		level       int // 0: not an operator
	}{
		{"no-token", "", 0},
		{"bad-token", tokBad, 0},
		{"level1", tokView, 1},
		{"level2", tokOperate, 2},
		{"level3", tokConfigure, 3},
	}
	for _, surface := range []string{"http", "remote"} {
		for _, tk := range tokens {
			t.Run(surface+"/"+tk.name, func(t *testing.T) {
				e := start(t, Options{})
				for _, c := range matrixOps {
					e := e
					if tk.level >= conf.LevelConfigure && Level(c.op) == conf.LevelConfigure {
						e = start(t, Options{})
					}
					sub := e.sup.System().Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
					want := c.allowed
					switch {
					case tk.level == 0:
						want = pb.Code_CODE_UNAUTHENTICATED
					case tk.level < Level(c.op):
						want = pb.Code_CODE_PERMISSION_DENIED
					}
					before := fingerprint(e.status())
					var got pb.Code
					if surface == "http" {
						got = e.httpCase(c, tk.token)
					} else {
						req := c.req(sub)
						req.Token = tk.token
						res, err := e.sup.System().Root.RequestFuture(e.ctl.pid, req, 10*time.Second).Result()
						if err != nil {
							t.Fatalf("%s: %v", c.op, err)
						}
						r := res.(*pb.ControlReply)
						got = r.Code
						if r.Ok != (got == pb.Code_CODE_OK) {
							t.Errorf("%s: ok=%v with code %s", c.op, r.Ok, got)
						}
						if got != pb.Code_CODE_OK && r.Reason == "" {
							t.Errorf("%s: refused without a reason", c.op)
						}
					}
					if got != want {
						t.Errorf("%s as %s: got %s, want %s", c.op, tk.name, got, want)
					}
					if got == pb.Code_CODE_OK && Level(c.op) == conf.LevelConfigure {
						if mappingEdits(t, e.dir) == 0 {
							t.Errorf("%s done but the mapping is not persisted", c.op)
						}
					}
					if want != pb.Code_CODE_OK {
						if after := fingerprint(e.status()); after != before {
							t.Errorf("%s as %s was refused (%s) but changed the state:\nbefore:\n%s\nafter:\n%s", c.op, tk.name, got, before, after)
						}
					}
				}
				if n := mappingEdits(t, e.dir); tk.level < conf.LevelConfigure && n != 0 {
					t.Errorf("mapping changed by a level %d operator (%d overrides)", tk.level, n)
				}
				if tk.level >= 1 && !strings.Contains(e.logs.String(), `"operator":"`+map[int]string{1: "vera", 2: "otto", 3: "cora"}[tk.level]+`"`) {
					t.Errorf("operator name not logged")
				}
			})
		}
	}
}

// httpCase runs one case over HTTP and returns the code it answered.
func (e *env) httpCase(c opCase, token string) pb.Code {
	e.t.Helper()
	if c.op == OpWatch {
		// The stream only answers with headers, then events: check the status line and leave.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, c.method, e.ctl.URL()+c.path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusOK {
			if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
				e.t.Errorf("events: content type %q", ct)
			}
			return pb.Code_CODE_OK
		}
		return codeOfHTTP(e.t, res.StatusCode)
	}
	status, reply := e.httpDo(c.method, c.path, token, c.body)
	code := pb.Code(pb.Code_value[reply["code"].(string)])
	if status != httpOf[code] {
		e.t.Errorf("%s: HTTP %d for %s, want %d", c.op, status, code, httpOf[code])
	}
	return code
}

func codeOfHTTP(t *testing.T, status int) pb.Code {
	for c, s := range httpOf {
		if s == status && c != pb.Code_CODE_NO_ALARM {
			return c
		}
	}
	t.Fatalf("unexpected HTTP status %d", status)
	return 0
}
