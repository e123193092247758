package control

import (
	"net/http"
	"net/http/pprof"
	"strings"
	"time"
)

// profile serves Go's runtime profiles (net/http/pprof) under /debug/pprof/ to a level-3
// operator: where a supervisor spends its CPU at scale is measured on the running process
// (`go tool pprof -http : 'http://HOST:7480/debug/pprof/profile?seconds=10'` with the token in an
// Authorization header, or `standby bench --profile DIR`), never guessed. Profiles cost CPU while
// they run and show the process's internals, hence the configure level.
func (g *gateway) profile(w http.ResponseWriter, r *http.Request) {
	if _, refused := g.svc.Authorize("http "+r.RemoteAddr, bearer(r), OpProfile); refused != nil {
		g.reply(w, refused, 0)
		return
	}
	// A CPU profile or trace runs for its ?seconds: the server's read deadline must not cut it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	switch name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/"); name {
	case "":
		pprof.Index(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "cmdline", "symbol":
		http.Error(w, "not served", http.StatusNotFound)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
