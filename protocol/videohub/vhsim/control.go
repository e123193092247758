package vhsim

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ControlHelp lists the commands Command accepts. Port numbers are 1-based, as on the chassis.
const ControlHelp = `commands (ports are 1-based):
  route OUT IN              route output OUT to input IN, as from the front panel
  label input|output N TEXT set a label
  lock OUT IP | unlock OUT  set or clear the owner IP of an output lock
  blackhole on|off          stop/resume reading and writing, sockets kept open
  reset                     close every client connection with RST
  present true|false        detach or attach the device (attach re-dumps)
  reattach                  detach then attach
  locked-route nak|ack      reply to routing a locked output
  routing partial|atomic    multi-line routing mode
  end-prelude on|off        send END PRELUDE
  split N [random]          split writes into N-byte chunks (0: whole)
  ack-delay DURATION        delay every reply, e.g. 200ms
  state                     print routes, locks and faults
  help                      print this`

// Command runs one control command (see ControlHelp) and returns its output. It exists so the
// `standby sim videohub` process can be driven by hand from stdin.
func (s *Server) Command(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	port := func(i int) (int, error) { // 1-based on input, 0-based inside
		n, err := strconv.Atoi(arg(i))
		if err != nil {
			return 0, fmt.Errorf("%s: want a port number, got %q", f[0], arg(i))
		}
		return n - 1, nil
	}
	onOff := func(i int) (bool, error) {
		switch arg(i) {
		case "on", "true":
			return true, nil
		case "off", "false":
			return false, nil
		}
		return false, fmt.Errorf("%s: want on or off, got %q", f[0], arg(i))
	}
	switch f[0] {
	case "help":
		return ControlHelp, nil
	case "state":
		return s.describe(), nil
	case "route":
		out, err := port(1)
		if err != nil {
			return "", err
		}
		in, err := port(2)
		if err != nil {
			return "", err
		}
		return "", s.SetRoute(out, in)
	case "label":
		n, err := port(2)
		if err != nil {
			return "", err
		}
		text := strings.Join(f[min(3, len(f)):], " ")
		switch arg(1) {
		case "input":
			return "", s.SetInputLabel(n, text)
		case "output":
			return "", s.SetOutputLabel(n, text)
		}
		return "", fmt.Errorf("label: want input or output, got %q", arg(1))
	case "lock", "unlock":
		out, err := port(1)
		if err != nil {
			return "", err
		}
		ip := arg(2)
		if f[0] == "lock" && ip == "" {
			return "", fmt.Errorf("lock: want an owner IP")
		}
		return "", s.SetLockOwner(out, ip)
	case "blackhole":
		on, err := onOff(1)
		if err == nil {
			s.SetBlackhole(on)
		}
		return "", err
	case "reset":
		s.Reset()
	case "present":
		on, err := onOff(1)
		if err == nil {
			s.SetDevicePresent(on)
		}
		return "", err
	case "reattach":
		s.Reattach()
	case "locked-route":
		var r LockedRouteReply
		if err := r.Set(arg(1)); err != nil {
			return "", err
		}
		s.SetLockedRouteReply(r)
	case "routing":
		var m RoutingMode
		if err := m.Set(arg(1)); err != nil {
			return "", err
		}
		s.SetRoutingMode(m)
	case "end-prelude":
		on, err := onOff(1)
		if err == nil {
			s.SetEndPrelude(on)
		}
		return "", err
	case "split":
		n, err := strconv.Atoi(arg(1))
		if err != nil || n < 0 {
			return "", fmt.Errorf("split: want a chunk size >= 0, got %q", arg(1))
		}
		s.SetWriteSplit(n, arg(2) == "random")
	case "ack-delay":
		d, err := time.ParseDuration(arg(1))
		if err != nil || d < 0 {
			return "", fmt.Errorf("ack-delay: want a duration like 200ms, got %q", arg(1))
		}
		s.SetAckDelay(d)
	default:
		return "", fmt.Errorf("unknown command %q (try help)", f[0])
	}
	return "", nil
}

// describe prints the state for people: 1-based ports.
func (s *Server) describe() string {
	st, f := s.State(), s.Faults()
	var b strings.Builder
	fmt.Fprintf(&b, "present %v, %d client(s), take mode %v\n", st.Present, st.Clients, st.TakeMode)
	for out, in := range st.Routes {
		lock := ""
		if st.LockOwners[out] != "" {
			lock = " locked by " + st.LockOwners[out]
		}
		fmt.Fprintf(&b, "output %d (%s) <- input %d (%s)%s\n", out+1, st.OutputLabels[out], in+1, st.InputLabels[in], lock)
	}
	fmt.Fprintf(&b, "faults: locked-route %s, routing %s, end-prelude %v, split %d random %v, ack-delay %s",
		f.LockedRoute, f.Routing, !f.NoEndPrelude, f.WriteChunk, f.RandomChunks, f.AckDelay)
	return b.String()
}

// serveControl runs commands read line by line from r, writing output and errors to w, until r
// ends. A reader blocked on a terminal cannot be interrupted, so Run does not wait for this.
func (s *Server) serveControl(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		out, err := s.Command(sc.Text())
		if err != nil {
			fmt.Fprintf(w, "error: %v\n", err)
		} else if out != "" {
			fmt.Fprintln(w, out)
		}
	}
}
