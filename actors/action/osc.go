package action

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// OSC 1.0 (opensoundcontrol.org/spec-1_0): a message is its address pattern, a type tag string
// ("," and one letter per argument) and the arguments, each string null-terminated and padded
// with nulls to a multiple of 4 bytes, numbers big-endian. No OSC package is served by the module
// proxy, so this is the small part Standby sends (int32 i, float32 f, string s, blob b), checked
// against the specification's own examples.

// EncodeOSC encodes one OSC message. Arguments are int32, float32, string or []byte.
func EncodeOSC(address string, args ...any) ([]byte, error) {
	if !strings.HasPrefix(address, "/") {
		return nil, fmt.Errorf("osc address %q does not start with '/'", address)
	}
	if strings.IndexByte(address, 0) >= 0 {
		return nil, fmt.Errorf("osc address %q contains a NUL byte", address)
	}
	b := oscString(nil, address)
	tags := []byte{','}
	var data []byte
	for i, a := range args {
		switch v := a.(type) {
		case int32:
			tags = append(tags, 'i')
			data = binary.BigEndian.AppendUint32(data, uint32(v))
		case float32:
			tags = append(tags, 'f')
			data = binary.BigEndian.AppendUint32(data, math.Float32bits(v))
		case string:
			if strings.IndexByte(v, 0) >= 0 {
				return nil, fmt.Errorf("osc argument %d contains a NUL byte", i)
			}
			tags = append(tags, 's')
			data = oscString(data, v)
		case []byte:
			tags = append(tags, 'b')
			data = binary.BigEndian.AppendUint32(data, uint32(len(v)))
			data = append(data, v...)
			data = pad(data)
		default:
			return nil, fmt.Errorf("osc argument %d: %T is not int32, float32, string or []byte", i, a)
		}
	}
	b = oscString(b, string(tags))
	return append(b, data...), nil
}

// oscString appends s, a NUL and the padding to a multiple of 4.
func oscString(b []byte, s string) []byte {
	b = append(b, s...)
	b = append(b, 0)
	return pad(b)
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ErrOSC reports a malformed OSC message.
var ErrOSC = errors.New("malformed osc message")

// DecodeOSC decodes one OSC message (the test receivers use it): its address and arguments
// (int32, float32, string, []byte).
func DecodeOSC(b []byte) (string, []any, error) {
	addr, rest, err := readOSCString(b)
	if err != nil {
		return "", nil, fmt.Errorf("%w: address: %v", ErrOSC, err)
	}
	if len(rest) == 0 {
		return addr, nil, nil // OSC 1.0 allows a message without a type tag string
	}
	tags, rest, err := readOSCString(rest)
	if err != nil || !strings.HasPrefix(tags, ",") {
		return "", nil, fmt.Errorf("%w: type tags", ErrOSC)
	}
	var args []any
	for _, t := range tags[1:] {
		switch t {
		case 'i', 'f':
			if len(rest) < 4 {
				return "", nil, fmt.Errorf("%w: short %c argument", ErrOSC, t)
			}
			u := binary.BigEndian.Uint32(rest)
			rest = rest[4:]
			if t == 'i' {
				args = append(args, int32(u))
			} else {
				args = append(args, math.Float32frombits(u))
			}
		case 's':
			var s string
			if s, rest, err = readOSCString(rest); err != nil {
				return "", nil, fmt.Errorf("%w: string argument: %v", ErrOSC, err)
			}
			args = append(args, s)
		case 'b':
			if len(rest) < 4 {
				return "", nil, fmt.Errorf("%w: short blob", ErrOSC)
			}
			n := int(binary.BigEndian.Uint32(rest))
			padded := (n + 3) &^ 3
			if n < 0 || len(rest)-4 < padded {
				return "", nil, fmt.Errorf("%w: short blob", ErrOSC)
			}
			args = append(args, append([]byte(nil), rest[4:4+n]...))
			rest = rest[4+padded:]
		default:
			return "", nil, fmt.Errorf("%w: type tag %q not supported", ErrOSC, t)
		}
	}
	if len(rest) != 0 {
		return "", nil, fmt.Errorf("%w: %d bytes after the arguments", ErrOSC, len(rest))
	}
	return addr, args, nil
}

func readOSCString(b []byte) (string, []byte, error) {
	i := 0
	for i < len(b) && b[i] != 0 {
		i++
	}
	if i == len(b) {
		return "", nil, errors.New("no terminating NUL")
	}
	n := (i + 4) &^ 3
	if n > len(b) {
		return "", nil, errors.New("short padding")
	}
	for _, c := range b[i:n] {
		if c != 0 {
			return "", nil, errors.New("padding is not NUL")
		}
	}
	return string(b[:i]), b[n:], nil
}
