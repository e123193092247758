// Package control is Standby's control surfaces: the operations operators run on a supervisor
// (status, watch, switch, mode, failback, acknowledge, mapping edits, simulated failures), the
// permission levels that gate them, and the three ways in:
//
//   - the remote control actor "standby/control" on the supervisor's protoactor endpoint, spoken
//     by `standby ctl` (protobuf messages of protocol/pb/control.proto);
//   - the HTTP gateway on [supervisor] http: a JSON API with a bearer token, a Server-Sent Events
//     stream, /metrics (Prometheus text) and /healthz;
//   - the web panels (Health, Machines) served from embedded files by the same gateway.
//
// Service is the one place that authenticates, checks levels and executes operations; the remote
// actor and the HTTP handlers only translate, so both surfaces behave identically. Mapping edits
// are validated exactly like a config file (conf.Check), persisted atomically
// under state_dir and applied with Supervisor.Reload.
//
// # Usage
//
//	supervisor.Run(ctx, supervisor.Options{Config: cfg, Logger: log,
//		OnStart: control.Attach(control.Options{Logger: log})}, reload)
package control
