package videohub

import (
	"io"
	"strconv"
)

// AppendBlock appends the wire form of b to dst: the exact capital header, the body lines and a
// blank line, all ending in "\n". A block with an empty body is a dump request (or PING, ACK,
// NAK, END PRELUDE). For KindUnknown it writes b.Header. Line breaks inside text fields are
// written as spaces so they cannot break the framing.
func AppendBlock(dst []byte, b Block) []byte {
	if b.Kind == KindUnknown {
		dst = appendText(dst, b.Header)
	} else {
		dst = append(dst, b.Kind.Header()...)
	}
	dst = append(dst, '\n')
	switch b.Kind.Format() {
	case FormatPreamble:
		if b.Version != "" {
			dst = appendSetting(dst, "Version", b.Version)
		}
	case FormatDevice:
		dst = appendDevice(dst, &b.Device)
	case FormatLabels:
		for _, l := range b.Labels {
			dst = strconv.AppendInt(dst, int64(l.Index), 10)
			dst = append(dst, ' ')
			dst = appendText(dst, l.Text)
			dst = append(dst, '\n')
		}
	case FormatRouting:
		for _, r := range b.Routes {
			dst = strconv.AppendInt(dst, int64(r.Dest), 10)
			dst = append(dst, ' ')
			dst = strconv.AppendInt(dst, int64(r.Source), 10)
			dst = append(dst, '\n')
		}
	case FormatLocks:
		for _, l := range b.Locks {
			dst = strconv.AppendInt(dst, int64(l.Index), 10)
			dst = append(dst, ' ', byte(l.State), '\n')
		}
	case FormatValues:
		for _, v := range b.Values {
			dst = strconv.AppendInt(dst, int64(v.Index), 10)
			dst = append(dst, ' ')
			dst = appendText(dst, v.Value)
			dst = append(dst, '\n')
		}
	case FormatKeyValues:
		for _, s := range b.Settings {
			dst = appendSetting(dst, s.Key, s.Value)
		}
	}
	return append(dst, '\n')
}

// WriteBlocks encodes blocks into one buffer and writes it with a single Write, so a batch
// (for example several routes) leaves in as few TCP segments as possible.
func WriteBlocks(w io.Writer, blocks ...Block) error {
	var buf []byte
	for _, b := range blocks {
		buf = AppendBlock(buf, b)
	}
	_, err := w.Write(buf)
	return err
}

func appendDevice(dst []byte, d *Device) []byte {
	for i, key := range deviceKeys {
		f := DeviceFields(1) << i
		if d.Has&f == 0 {
			continue
		}
		switch {
		case f == FieldPresent:
			dst = appendSetting(dst, key, d.Present.String())
		case d.text(f) != nil:
			dst = appendSetting(dst, key, *d.text(f))
		default:
			dst = appendSetting(dst, key, strconv.Itoa(*d.count(f)))
		}
	}
	return dst
}

func appendSetting(dst []byte, key, val string) []byte {
	dst = appendText(dst, key)
	dst = append(dst, ": "...)
	dst = appendText(dst, val)
	return append(dst, '\n')
}

// appendText appends s with CR and LF replaced by spaces.
func appendText(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
