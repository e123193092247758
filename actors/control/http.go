package control

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"standby/protocol/pb"
)

// web holds the panels: plain HTML, CSS and JavaScript, no build step, nothing from a CDN.
//
//go:embed web
var web embed.FS

// maxBody caps a request body; the largest is a pair's feeds.
const maxBody = 64 << 10

// JSON is how replies, statuses and events look in JSON (the HTTP API, `standby ctl --json`):
// the proto field names, every field present.
func JSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
}

// gateway is the HTTP surface: a thin translation of routes to Service operations.
type gateway struct {
	svc       *Service
	heartbeat time.Duration // SSE heartbeat; the panels refresh health values on it
	prom      http.Handler  // promhttp over the control surfaces' registry
}

func (g *gateway) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/status", g.op(OpStatus, func() (*pb.ControlRequest, proto.Message) {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}}, nil
	}))
	mux.HandleFunc("GET /api/events", g.events)
	mux.HandleFunc("GET /api/events/history", g.history)
	// Pair operations that pools take too, under /api/pools/{pool}/ ({pair} names the pool).
	both := func(op string, h http.HandlerFunc) {
		mux.HandleFunc("POST /api/pairs/{pair}/"+op, h)
		mux.HandleFunc("POST /api/pools/{pair}/"+op, h)
	}
	// A switch, mode or failback says where to: without a body it is refused with what to send
	// (a bodiless switch used to toggle, and a repeated request flipped it back).
	mux.HandleFunc("POST /api/pairs/{pair}/switch", g.required(`{"to":"main"} or {"to":"backup"}`, g.op(OpSwitch, switchOp)))
	mux.HandleFunc("POST /api/pools/{pair}/switch", g.required(`{"main":"MAIN","to":"BACKUP"}, "to":"any" or "to":"main"`, g.op(OpSwitch, switchOp)))
	both("mode", g.required(`{"mode":"automatic"} or {"mode":"manual"}`, g.op(OpSetMode, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_SetModeOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetMode{SetMode: m}}, m
	})))
	both("failback", g.required(`{"failback":"automatic"} or {"failback":"manual"}`, g.op(OpSetFailback, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_SetFailbackOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetFailback{SetFailback: m}}, m
	})))
	both("acknowledge", g.op(OpAcknowledge, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_AcknowledgeOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: m}}, m
	}))
	mux.HandleFunc("PUT /api/pairs/{pair}/backup", g.op(OpAddBackup, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_AddBackupOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_AddBackup{AddBackup: m}}, m
	}))
	mux.HandleFunc("DELETE /api/pairs/{pair}/backup", g.op(OpRemoveBackup, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_RemoveBackupOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_RemoveBackup{RemoveBackup: m}}, m
	}))
	mux.HandleFunc("PUT /api/pairs/{pair}/feeds", g.op(OpSetFeeds, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_SetFeedsOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetFeeds{SetFeeds: m}}, m
	}))
	mux.HandleFunc("PUT /api/pools/{pool}", g.op(OpSetPool, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_SetPoolOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetPool{SetPool: m}}, m
	}))
	mux.HandleFunc("DELETE /api/pools/{pool}", g.op(OpRemovePool, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_RemovePoolOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_RemovePool{RemovePool: m}}, m
	}))
	mux.HandleFunc("POST /api/machines/{machine}/acknowledge", g.op(OpAcknowledge, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_AcknowledgeOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: m}}, m
	}))
	mux.HandleFunc("POST /api/machines/{machine}/simulate", g.op(OpSimulate, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_SimulateOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Simulate{Simulate: m}}, m
	}))
	mux.HandleFunc("POST /api/supervisor/resync", g.op(OpResync, func() (*pb.ControlRequest, proto.Message) {
		return &pb.ControlRequest{Op: &pb.ControlRequest_Resync{Resync: &pb.ControlRequest_ResyncOp{}}}, nil
	}))
	mux.HandleFunc("POST /api/supervisor/make-primary", g.op(OpMakePrimary, func() (*pb.ControlRequest, proto.Message) {
		return &pb.ControlRequest{Op: &pb.ControlRequest_MakePrimary{MakePrimary: &pb.ControlRequest_MakePrimaryOp{}}}, nil
	}))
	mux.HandleFunc("POST /api/actions/{action}/test", g.op(OpTestAction, func() (*pb.ControlRequest, proto.Message) {
		m := &pb.ControlRequest_TestActionOp{}
		return &pb.ControlRequest{Op: &pb.ControlRequest_TestAction{TestAction: m}}, m
	}))
	mux.HandleFunc("GET /metrics", g.metrics)
	mux.HandleFunc("GET /healthz", g.healthz)
	mux.HandleFunc("GET /debug/pprof/", g.profile)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// The catch-all wins over the mux's own 405 for a route that exists with other methods.
		if allow := allowed(mux, r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			g.reply(w, refusal(pb.Code_CODE_BAD_REQUEST, "method %s not allowed on %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")), http.StatusMethodNotAllowed)
			return
		}
		g.reply(w, refusal(pb.Code_CODE_BAD_REQUEST, "no such API route: %s %s", r.Method, r.URL.Path), http.StatusNotFound)
	})
	static, _ := fs.Sub(web, "web")
	files := http.FileServerFS(static)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		files.ServeHTTP(w, r)
	})
	return secure(mux)
}

func switchOp() (*pb.ControlRequest, proto.Message) {
	m := &pb.ControlRequest_SwitchOp{}
	return &pb.ControlRequest{Op: &pb.ControlRequest_Switch{Switch: m}}, m
}

// allowed lists the methods other than r's that have a route of their own for r's path.
func allowed(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// required makes h refuse a request whose body sets nothing (none, or {}) with 400 naming what to
// send; the token and level are still checked first.
func (g *gateway) required(example string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(context.WithValue(r.Context(), needBody{}, example)))
	}
}

// needBody is the context key of the example body a route requires.
type needBody struct{}

// secure adds the headers every response carries: the panels load only their own files.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// op serves one operation: token (401), level (403), body (400), then Service, whose reply code
// becomes the HTTP status. The body decodes into body (nil: no body); {pair} and {machine} from
// the path override the body.
func (g *gateway) op(op Op, build func() (req *pb.ControlRequest, body proto.Message)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		via := "http " + r.RemoteAddr
		token := bearer(r)
		who, refused := g.svc.Authorize(via, token, op)
		if refused != nil {
			g.reply(w, refused, 0)
			return
		}
		req, body := build()
		if body != nil {
			err := decodeBody(w, r, body)
			if example, ok := r.Context().Value(needBody{}).(string); ok && err == nil && proto.Size(body) == 0 {
				err = fmt.Errorf("body required: send %s", example)
			}
			if err != nil {
				bad := refusal(pb.Code_CODE_BAD_REQUEST, "%v", err)
				bad.Operator, bad.Level = who.Name, int32(who.Level)
				g.reply(w, bad, 0)
				return
			}
			setPathValues(r, body)
		}
		req.Token = token
		g.reply(w, g.svc.execute(via, who, req), 0)
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, m proto.Message) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("body larger than %d bytes", maxBody)
		}
		return fmt.Errorf("reading body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var syntax any
	if err := json.Unmarshal(b, &syntax); err != nil {
		return fmt.Errorf("body is not valid JSON: %v", err)
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		return fmt.Errorf("body does not fit this request: %s", protoReason(err))
	}
	return nil
}

// protoPrefix is what protojson puts before its reason: a package name and a position.
var protoPrefix = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?`)

// protoReason is a protojson error without its "proto: (line 1:2): " (users never see protobuf).
func protoReason(err error) string {
	return protoPrefix.ReplaceAllString(strings.ReplaceAll(err.Error(), "\u00a0", " "), "")
}

func setPathValues(r *http.Request, m proto.Message) {
	msg := m.ProtoReflect()
	for _, name := range []string{"pair", "pool", "machine", "action"} {
		if fd := msg.Descriptor().Fields().ByName(protoreflect.Name(name)); fd != nil {
			msg.Set(fd, protoreflect.ValueOfString(r.PathValue(name)))
		}
	}
}

// bearer is the token of an "Authorization: Bearer <token>" header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// httpStatus maps a reply code to its HTTP status.
func httpStatus(c pb.Code) int {
	switch c {
	case pb.Code_CODE_OK:
		return http.StatusOK
	case pb.Code_CODE_BAD_REQUEST:
		return http.StatusBadRequest
	case pb.Code_CODE_UNAUTHENTICATED:
		return http.StatusUnauthorized
	case pb.Code_CODE_PERMISSION_DENIED:
		return http.StatusForbidden
	case pb.Code_CODE_UNKNOWN_PAIR, pb.Code_CODE_UNKNOWN_MACHINE, pb.Code_CODE_NOT_IN_POOL, pb.Code_CODE_UNKNOWN_ACTION:
		return http.StatusNotFound
	case pb.Code_CODE_INVALID_MAPPING:
		return http.StatusUnprocessableEntity
	case pb.Code_CODE_SWITCH_FAILED, pb.Code_CODE_ACTION_FAILED:
		return http.StatusBadGateway
	case pb.Code_CODE_BUSY:
		return http.StatusServiceUnavailable
	case pb.Code_CODE_INTERNAL:
		return http.StatusInternalServerError
	}
	// Refused because of the current state: read-only, target down, locked, pending, on air,
	// no alarm, not simulated.
	return http.StatusConflict
}

// reply writes r as JSON with the status its code maps to (or status, when not 0).
func (g *gateway) reply(w http.ResponseWriter, r *pb.ControlReply, status int) {
	if status == 0 {
		status = httpStatus(r.Code)
	}
	b, err := JSON(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Code == pb.Code_CODE_UNAUTHENTICATED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="standby"`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// events streams every ControlEvent as Server-Sent Events (event: <kind>, data: JSON), with a
// heartbeat event so clients notice a dead stream and refresh live values.
func (g *gateway) events(w http.ResponseWriter, r *http.Request) {
	if _, refused := g.svc.Authorize("http "+r.RemoteAddr, bearer(r), OpWatch); refused != nil {
		g.reply(w, refused, 0)
		return
	}
	events, cancel := g.svc.hub.Subscribe(256)
	defer cancel()
	rc := http.NewResponseController(w)
	// The request is read: the server's ReadTimeout (for slow bodies) must not end the stream.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(e *pb.ControlEvent) error {
		b, err := JSON(e)
		if err != nil {
			return err
		}
		// A client that stops reading must not hold the handler forever.
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Kind, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(&pb.ControlEvent{Kind: "hello"}) != nil {
		return
	}
	beat := time.NewTicker(g.heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-events:
			if !ok {
				return // fell behind or shutting down: the client reconnects and re-reads the status
			}
			if send(e) != nil {
				return
			}
		case <-beat.C:
			if send(&pb.ControlEvent{Kind: "heartbeat"}) != nil {
				return
			}
		}
	}
}

// metrics serves the Prometheus exposition (promhttp) to an operator's bearer token (any level;
// for Prometheus's scrape config: authorization: {credentials: TOKEN}).
func (g *gateway) metrics(w http.ResponseWriter, r *http.Request) {
	if _, refused := g.svc.Authorize("http "+r.RemoteAddr, bearer(r), OpMetrics); refused != nil {
		g.reply(w, refused, 0)
		return
	}
	g.prom.ServeHTTP(w, r)
}

// healthz answers 200 while the supervision tree answers.
func (g *gateway) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := g.svc.sup.Pools(); err != nil {
		http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}
