package control

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"standby/protocol/pb"
)

// TestEmptyOperations: every operation with nothing in it, or with its message missing (a nil
// oneof case, as Go sees one), is refused with a reason and changes nothing; it never panics.
func TestEmptyOperations(t *testing.T) {
	e := start(t, Options{})
	before := fingerprint(e.status())
	var reqs []*pb.ControlRequest
	oneof := (&pb.ControlRequest{}).ProtoReflect().Descriptor().Oneofs().ByName("op")
	for i := 0; i < oneof.Fields().Len(); i++ {
		req := &pb.ControlRequest{Token: tokConfigure}
		m, fd := req.ProtoReflect(), oneof.Fields().Get(i)
		m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
		reqs = append(reqs, req)
	}
	for _, op := range []any{&pb.ControlRequest_Subscribe{}, &pb.ControlRequest_Unsubscribe{}, &pb.ControlRequest_Switch{},
		&pb.ControlRequest_SetMode{}, &pb.ControlRequest_SetFailback{}, &pb.ControlRequest_Acknowledge{}, &pb.ControlRequest_AddBackup{},
		&pb.ControlRequest_RemoveBackup{}, &pb.ControlRequest_SetFeeds{}, &pb.ControlRequest_Simulate{}} {
		req := &pb.ControlRequest{Token: tokConfigure}
		reflect.ValueOf(&req.Op).Elem().Set(reflect.ValueOf(op))
		reqs = append(reqs, req)
	}
	for _, req := range reqs {
		op, _ := OpOf(req)
		r := e.ctl.svc.Do("test", req)
		if op == OpStatus {
			if !r.Ok {
				t.Errorf("status: %v", r)
			}
			continue
		}
		if r.Ok || r.Reason == "" {
			t.Errorf("%T with nothing in it: ok=%v %s %q", req.Op, r.Ok, r.Code, r.Reason)
		}
	}
	if r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokConfigure}); r.Code != pb.Code_CODE_BAD_REQUEST {
		t.Errorf("no operation: %s", r.Code)
	}
	if after := fingerprint(e.status()); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}
