// Package pb holds the protobuf wire messages between Standby agents and supervisors (agent.proto,
// proto package standby.v1), and the names and limits that go with them.
//
// An agent sends AgentReport to the actor GatewayActorID on each supervisor's remote endpoint and gets
// an AgentReply back. Control surfaces and tests send SimSet to the actor AgentActorID on an agent's
// endpoint and get a SimSetReply.
//
// The generated agent.pb.go is committed; regenerate it with `go generate ./protocol/pb` (needs protoc,
// Debian's protobuf-compiler 3.21.12, and builds protoc-gen-go from the version pinned in go.mod).
package pb

//go:generate go build -o protoc-gen-go.bin google.golang.org/protobuf/cmd/protoc-gen-go
//go:generate protoc --plugin=protoc-gen-go=protoc-gen-go.bin --go_out=. --go_opt=paths=source_relative agent.proto control.proto sync.proto
//go:generate rm -f protoc-gen-go.bin

// Well-known actor ids. A PID is actor.NewPID(address, id).
const (
	// GatewayActorID is the supervisor's agent gateway: the supervisor spawns "agents" under its root
	// actor "standby". Agents send AgentReport here.
	GatewayActorID = "standby/agents"
	// AgentActorID is the agent's own actor. SimSet requests go here.
	AgentActorID = "agent"
	// SyncActorID is a supervisor's end of the sync link with its peer: SyncBeat goes here.
	SyncActorID = "standby/sync"
)

// Size limits. The gRPC layer refuses any frame above MaxFrameBytes; the gateway refuses reports that
// break the others, and the agent config cannot ask for more.
const (
	// MaxFrameBytes caps one gRPC frame (a batch of messages) in either direction.
	MaxFrameBytes = 4 << 20
	// MaxServices caps the services in one report.
	MaxServices = 64
	// MaxHealth caps the health values in one report.
	MaxHealth = 64
	// MaxNameLen caps machine, service and health names, in bytes.
	MaxNameLen = 64
	// MaxReasonLen caps a reason text, in bytes; agents truncate longer ones.
	MaxReasonLen = 256
	// MaxSupervisors caps the supervisor addresses of an agent's config, and the supervisors a report
	// may say it hears.
	MaxSupervisors = 8
)
