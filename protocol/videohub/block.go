package videohub

import "strings"

// Block is one protocol block. Kind.Format says which body field is set; the others are nil or
// zero. All indices are 0-based, as on the wire.
type Block struct {
	Kind Kind

	// Header is the header line as received, set only for KindUnknown (so a server can log what
	// it refused). The encoder writes it back for KindUnknown.
	Header string

	// Lines counts the body lines received, understood or not. A block a client sends with
	// Lines == 0 is a dump request. Skipped counts the body lines that were not understood
	// (malformed, unknown key, or any line of a block without a body format); they are dropped.
	Lines, Skipped int

	Version  string    // FormatPreamble: the "Version:" value, e.g. "2.8"
	Device   Device    // FormatDevice
	Labels   []Label   // FormatLabels
	Routes   []Route   // FormatRouting
	Locks    []Lock    // FormatLocks
	Values   []Value   // FormatValues
	Settings []Setting // FormatKeyValues
}

// IsDumpRequest reports whether a client sending b asks for the whole block: a state block
// (anything with a body format) sent as a header and a blank line.
func (b Block) IsDumpRequest() bool { return b.Lines == 0 && b.Kind.Format() != FormatNone }

// String encodes the block as it would be sent, for logs and test failures.
func (b Block) String() string { return string(AppendBlock(nil, b)) }

// Label is one line of a *LABELS block.
type Label struct {
	Index int
	// Text is everything after the first space, spaces included; it may be empty. Bytes are kept
	// as received: the encoding is undocumented, so invalid UTF-8 is not an error.
	Text string
}

// Route is one line of a *ROUTING block: destination Dest takes source Source. Both are 0-based
// indices into Kind.Port and Kind.Source. Source is NoSource (-1) for a disconnected serial port.
type Route struct {
	Dest, Source int
}

// NoSource is the source index of a disconnected route (serial port routing).
const NoSource = -1

// LockState is a lock letter. The server sends O, L or U; a client sends O, U or F.
type LockState byte

// Lock letters.
const (
	LockOwned    LockState = 'O' // server: locked by the receiving client's IP; client: take the lock
	LockLocked   LockState = 'L' // server: locked by another IP
	LockUnlocked LockState = 'U' // server: unlocked; client: release my lock
	LockForce    LockState = 'F' // client: force-unlock, whoever owns it
)

// String returns the letter.
func (s LockState) String() string { return string(rune(s)) }

func (s LockState) valid() bool {
	return s == LockOwned || s == LockLocked || s == LockUnlocked || s == LockForce
}

// Lock is one line of a *LOCKS block.
type Lock struct {
	Index int
	State LockState
}

// Value is one line of a block of per-port words: SERIAL PORT DIRECTIONS (control, slave, auto),
// VIDEO INPUT/OUTPUT STATUS (None, BNC, Optical, Thunderbolt), SERIAL PORT STATUS (None, RS422),
// TAKE MODE (true, false).
type Value struct {
	Index int
	Value string
}

// Setting is one "Key: value" line of CONFIGURATION or ALARM STATUS.
type Setting struct {
	Key, Value string
}

// Setting returns the value of the first setting whose key matches key, ignoring case.
func (b Block) Setting(key string) (string, bool) {
	for _, s := range b.Settings {
		if strings.EqualFold(s.Key, key) {
			return s.Value, true
		}
	}
	return "", false
}

// Presence is the "Device present" value.
type Presence uint8

// Presence values.
const (
	PresenceFalse       Presence = iota // no device attached: nothing else follows
	PresenceTrue                        // device attached
	PresenceNeedsUpdate                 // incompatible firmware: nothing else follows
)

var presenceNames = [...]string{"false", "true", "needs_update"}

// String returns the wire spelling.
func (p Presence) String() string {
	if int(p) < len(presenceNames) {
		return presenceNames[p]
	}
	return "false"
}

// DeviceFields is a set of VIDEOHUB DEVICE lines.
type DeviceFields uint16

// VIDEOHUB DEVICE lines, in the order a device sends them.
const (
	FieldPresent DeviceFields = 1 << iota
	FieldModelName
	FieldFriendlyName
	FieldUniqueID
	FieldVideoInputs
	FieldVideoProcessingUnits
	FieldVideoOutputs
	FieldVideoMonitoringOutputs
	FieldSerialPorts

	numDeviceFields = iota
)

// Device is the body of a VIDEOHUB DEVICE block. Has records which lines the block carried:
// the 12G models omit some counts, and a client renaming the device sends only Friendly name.
type Device struct {
	Has DeviceFields

	Present      Presence
	ModelName    string
	FriendlyName string
	UniqueID     string

	VideoInputs            int
	VideoProcessingUnits   int
	VideoOutputs           int
	VideoMonitoringOutputs int
	SerialPorts            int
}

// deviceKeys are the wire keys, in bit order of DeviceFields.
var deviceKeys = [numDeviceFields]string{
	"Device present", "Model name", "Friendly name", "Unique ID", "Video inputs",
	"Video processing units", "Video outputs", "Video monitoring outputs", "Serial ports",
}

// count returns a pointer to the integer field for f, or nil for the string fields.
func (d *Device) count(f DeviceFields) *int {
	switch f {
	case FieldVideoInputs:
		return &d.VideoInputs
	case FieldVideoProcessingUnits:
		return &d.VideoProcessingUnits
	case FieldVideoOutputs:
		return &d.VideoOutputs
	case FieldVideoMonitoringOutputs:
		return &d.VideoMonitoringOutputs
	case FieldSerialPorts:
		return &d.SerialPorts
	}
	return nil
}

// text returns a pointer to the string field for f, or nil.
func (d *Device) text(f DeviceFields) *string {
	switch f {
	case FieldModelName:
		return &d.ModelName
	case FieldFriendlyName:
		return &d.FriendlyName
	case FieldUniqueID:
		return &d.UniqueID
	}
	return nil
}
