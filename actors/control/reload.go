package control

import (
	"standby/conf"
	"standby/protocol/pb"
)

// doReload is `standby ctl reload [--force]`: the config file read again and run, like SIGHUP.
func (s *Service) doReload(who conf.Operator, force bool) *pb.ControlReply {
	if s.reload == nil {
		return refusal(pb.Code_CODE_BAD_REQUEST, "reload: this supervisor was not started by `standby run` from a file; nothing to read again")
	}
	msg, err := s.reload(who.Name, force)
	if err != nil {
		return refusal(pb.Code_CODE_BAD_REQUEST, "%v", err)
	}
	return &pb.ControlReply{Ok: true, Reason: msg}
}
