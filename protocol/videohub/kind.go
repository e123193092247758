package videohub

import "bytes"

// Kind identifies a block by its header. The zero value is KindUnknown.
type Kind uint8

// Block kinds, one per header of the protocol. Append only: the values may be stored or logged.
const (
	KindUnknown Kind = iota // a header this package does not know; Block.Header holds it

	KindPreamble // PROTOCOL PREAMBLE:
	KindDevice   // VIDEOHUB DEVICE:

	KindInputLabels            // INPUT LABELS:
	KindOutputLabels           // OUTPUT LABELS:
	KindMonitoringOutputLabels // MONITORING OUTPUT LABELS:
	KindSerialPortLabels       // SERIAL PORT LABELS:
	KindFrameLabels            // FRAME LABELS:

	KindVideoOutputRouting           // VIDEO OUTPUT ROUTING:
	KindVideoMonitoringOutputRouting // VIDEO MONITORING OUTPUT ROUTING:
	KindSerialPortRouting            // SERIAL PORT ROUTING:
	KindProcessingUnitRouting        // PROCESSING UNIT ROUTING:
	KindFrameBufferRouting           // FRAME BUFFER ROUTING:

	KindVideoOutputLocks      // VIDEO OUTPUT LOCKS:
	KindMonitoringOutputLocks // MONITORING OUTPUT LOCKS:
	KindSerialPortLocks       // SERIAL PORT LOCKS:
	KindProcessingUnitLocks   // PROCESSING UNIT LOCKS:
	KindFrameBufferLocks      // FRAME BUFFER LOCKS:

	KindSerialPortDirections // SERIAL PORT DIRECTIONS:
	KindVideoInputStatus     // VIDEO INPUT STATUS:
	KindVideoOutputStatus    // VIDEO OUTPUT STATUS:
	KindSerialPortStatus     // SERIAL PORT STATUS:
	KindTakeMode             // TAKE MODE: (per output, seen on 12G models)

	KindConfiguration // CONFIGURATION:
	KindAlarmStatus   // ALARM STATUS:

	KindEndPrelude // END PRELUDE:
	KindPing       // PING:
	KindACK        // ACK (no colon)
	KindNAK        // NAK (no colon)

	numKinds
)

// Format says how the body lines of a block are written and which Block field holds them.
type Format uint8

// Body formats.
const (
	FormatNone      Format = iota // no body: END PRELUDE, PING, ACK, NAK, unknown blocks
	FormatPreamble                // "Version: 2.8" → Block.Version
	FormatDevice                  // "Key: value" → Block.Device
	FormatLabels                  // "<index> <label text>" → Block.Labels
	FormatRouting                 // "<dest> <source>" → Block.Routes
	FormatLocks                   // "<index> O|L|U|F" → Block.Locks
	FormatValues                  // "<index> <word>" → Block.Values (directions, port status, take mode)
	FormatKeyValues               // "Key: value" → Block.Settings (configuration, alarms)
)

// Port is a family of numbered ports on a Videohub. Each family is indexed from 0.
type Port uint8

// Port families.
const (
	PortNone             Port = iota
	PortInput                 // video inputs
	PortOutput                // video outputs
	PortMonitoringOutput      // video monitoring outputs
	PortSerial                // serial (RS-422) ports
	PortProcessingUnit        // processing units (Workgroup Videohub)
	PortFrame                 // frame buffers (Workgroup Videohub)
)

var portNames = [...]string{"none", "input", "output", "monitoring output", "serial port", "processing unit", "frame"}

// String returns a lower-case name for logs.
func (p Port) String() string {
	if int(p) < len(portNames) {
		return portNames[p]
	}
	return "port?"
}

type kindInfo struct {
	header string // exact header as sent, without the colon
	colon  bool   // false only for ACK and NAK
	format Format
	port   Port // family the line indices refer to
	source Port // routing only: family of the source index
	status bool // hardware status: read-only, a client's write is ignored
}

var kinds = [numKinds]kindInfo{
	KindUnknown:  {header: "", format: FormatNone},
	KindPreamble: {header: "PROTOCOL PREAMBLE", colon: true, format: FormatPreamble},
	KindDevice:   {header: "VIDEOHUB DEVICE", colon: true, format: FormatDevice},

	KindInputLabels:            {header: "INPUT LABELS", colon: true, format: FormatLabels, port: PortInput},
	KindOutputLabels:           {header: "OUTPUT LABELS", colon: true, format: FormatLabels, port: PortOutput},
	KindMonitoringOutputLabels: {header: "MONITORING OUTPUT LABELS", colon: true, format: FormatLabels, port: PortMonitoringOutput},
	KindSerialPortLabels:       {header: "SERIAL PORT LABELS", colon: true, format: FormatLabels, port: PortSerial},
	KindFrameLabels:            {header: "FRAME LABELS", colon: true, format: FormatLabels, port: PortFrame},

	KindVideoOutputRouting:           {header: "VIDEO OUTPUT ROUTING", colon: true, format: FormatRouting, port: PortOutput, source: PortInput},
	KindVideoMonitoringOutputRouting: {header: "VIDEO MONITORING OUTPUT ROUTING", colon: true, format: FormatRouting, port: PortMonitoringOutput, source: PortInput},
	KindSerialPortRouting:            {header: "SERIAL PORT ROUTING", colon: true, format: FormatRouting, port: PortSerial, source: PortSerial},
	KindProcessingUnitRouting:        {header: "PROCESSING UNIT ROUTING", colon: true, format: FormatRouting, port: PortProcessingUnit, source: PortInput},
	KindFrameBufferRouting:           {header: "FRAME BUFFER ROUTING", colon: true, format: FormatRouting, port: PortFrame, source: PortOutput},

	KindVideoOutputLocks:      {header: "VIDEO OUTPUT LOCKS", colon: true, format: FormatLocks, port: PortOutput},
	KindMonitoringOutputLocks: {header: "MONITORING OUTPUT LOCKS", colon: true, format: FormatLocks, port: PortMonitoringOutput},
	KindSerialPortLocks:       {header: "SERIAL PORT LOCKS", colon: true, format: FormatLocks, port: PortSerial},
	KindProcessingUnitLocks:   {header: "PROCESSING UNIT LOCKS", colon: true, format: FormatLocks, port: PortProcessingUnit},
	KindFrameBufferLocks:      {header: "FRAME BUFFER LOCKS", colon: true, format: FormatLocks, port: PortFrame},

	KindSerialPortDirections: {header: "SERIAL PORT DIRECTIONS", colon: true, format: FormatValues, port: PortSerial},
	KindVideoInputStatus:     {header: "VIDEO INPUT STATUS", colon: true, format: FormatValues, port: PortInput, status: true},
	KindVideoOutputStatus:    {header: "VIDEO OUTPUT STATUS", colon: true, format: FormatValues, port: PortOutput, status: true},
	KindSerialPortStatus:     {header: "SERIAL PORT STATUS", colon: true, format: FormatValues, port: PortSerial, status: true},
	KindTakeMode:             {header: "TAKE MODE", colon: true, format: FormatValues, port: PortOutput},

	KindConfiguration: {header: "CONFIGURATION", colon: true, format: FormatKeyValues},
	KindAlarmStatus:   {header: "ALARM STATUS", colon: true, format: FormatKeyValues, status: true},

	KindEndPrelude: {header: "END PRELUDE", colon: true},
	KindPing:       {header: "PING", colon: true},
	KindACK:        {header: "ACK"},
	KindNAK:        {header: "NAK"},
}

// byHeader maps an upper-case header line, colon included, to its kind.
var byHeader = func() map[string]Kind {
	m := make(map[string]Kind, numKinds)
	for k := KindUnknown + 1; k < numKinds; k++ {
		m[k.Header()] = k
	}
	return m
}()

// lookupKind returns the kind of a header line (trailing blanks already trimmed), ignoring case.
func lookupKind(line []byte) Kind {
	if k, ok := byHeader[string(line)]; ok { // fast path, no allocation: devices send exact capitals
		return k
	}
	return byHeader[string(bytes.ToUpper(line))]
}

func (k Kind) info() kindInfo {
	if k < numKinds {
		return kinds[k]
	}
	return kinds[KindUnknown]
}

// Header returns the exact header line as a device sends it, colon included ("ACK" and "NAK" have
// none). It is empty for KindUnknown.
func (k Kind) Header() string {
	i := k.info()
	if i.colon {
		return i.header + ":"
	}
	return i.header
}

// String returns the header without its colon, or "UNKNOWN".
func (k Kind) String() string {
	if k == KindUnknown || k >= numKinds {
		return "UNKNOWN"
	}
	return kinds[k].header
}

// Format tells how the body is written and which Block field holds it.
func (k Kind) Format() Format { return k.info().format }

// Port is the port family that the line indices of the block refer to (the destination, for
// routing). It is PortNone for blocks that are not indexed by port.
func (k Kind) Port() Port { return k.info().port }

// Source is, for routing blocks, the port family of the source index (inputs for video routing,
// serial ports for serial routing, outputs for frame buffer routing). PortNone otherwise.
func (k Kind) Source() Port { return k.info().source }

// IsStatus reports whether the block is hardware status that the device sends and ignores when a
// client sends it (VIDEO INPUT STATUS, VIDEO OUTPUT STATUS, SERIAL PORT STATUS, ALARM STATUS).
func (k Kind) IsStatus() bool { return k.info().status }
