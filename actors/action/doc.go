// Package action runs the studio's [[action]]s: things to do when something happens (tell Bitfocus
// Companion, load the main's show on the backup that took over, set a multiviewer label, page
// someone). The runner is an actor of its own, fed the supervisor's events (pool transitions and
// alarms, machine conditions and alarms, the supervisor's own role) from the actor system's event
// stream after the fact: a pool publishes a switch once the router confirmed or refused it, and
// nothing here ever answers a pool, so an action can neither delay a switch nor another pair.
//
// Each event is turned into an Event (the fields the templates see) and queued for every action
// whose on and filters match. Runs are bounded three ways: per action (concurrency, default 1),
// in total ([actions] concurrency, default 8), and in time (timeout, default 2s: the run's context
// is cancelled and the result is timed_out). An action's queue is bounded too: when it is full
// the oldest waiting event is dropped and reported as a dropped result, so a hung action delays
// only its own later runs. Runs that could not connect are retried with backoff within the
// timeout (retries, default 0).
//
// Every result (ok with the HTTP status or exit code, failed with the reason, timed_out, dropped)
// is logged as one line (action, event, pair, duration_ms, result, detail), published on the event
// stream as *Result (the control hub turns it into a ControlEvent of kind "action"), counted for
// /metrics and kept as the action's latest result for the status.
//
// Kinds: exec (a local program, argv and STANDBY_* environment), http, tcp and udp (templated
// bytes), osc (an OSC 1.0 message over UDP, encoded here) and agent (a [[command]] that the
// machine's agent config declares, asked for by name over protoactor remote; see
// pb.CommandRequest).
package action
