package videohub

import (
	"bytes"
	"errors"
	"io"
	"strings"
)

// Limits that bound the memory one peer can make us hold. The largest real dump (Universal
// Videohub 288) has 288-line blocks of short lines, so anything near these is garbage.
const (
	// MaxLineLength is the longest line accepted, in bytes, without its line ending.
	MaxLineLength = 4096
	// MaxBlockLines is the largest number of body lines accepted in one block.
	MaxBlockLines = 1024
)

// Errors returned by Parser.Feed. Both mean the peer is sending garbage: drop the connection.
var (
	// ErrLineTooLong means a line exceeded MaxLineLength.
	ErrLineTooLong = errors.New("videohub: line too long")
	// ErrBlockTooLong means a block exceeded MaxBlockLines body lines.
	ErrBlockTooLong = errors.New("videohub: too many lines in block")
)

// Parser decodes a Videohub byte stream into Blocks. It keeps its position between calls, so the
// stream may be fed in any chunking. The zero value is ready to use. A Parser is not safe for
// concurrent use.
type Parser struct {
	line    []byte // the current line so far, when it spans Feed calls
	afterCR bool   // the last line ended with '\r': a '\n' arriving next is part of that ending
	inBlock bool   // a header was read and the blank line that ends its block was not
	cur     Block  // the block being read
	err     error  // sticky: once the stream broke a limit, it is not resynchronised
}

// Feed parses the next chunk of the stream and returns the blocks it completed, in order. A
// block is complete at its trailing blank line; a partial block or line is kept for the next
// call. On ErrLineTooLong or ErrBlockTooLong it returns the blocks completed before the fault,
// and every later call returns the same error.
func (p *Parser) Feed(data []byte) ([]Block, error) {
	if p.err != nil {
		return nil, p.err
	}
	var out []Block
	for len(data) > 0 {
		if p.afterCR {
			p.afterCR = false
			if data[0] == '\n' { // "\r\n" split across chunks is one line ending
				data = data[1:]
				continue
			}
		}
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			if len(p.line)+len(data) > MaxLineLength {
				return out, p.fail(ErrLineTooLong)
			}
			p.line = append(p.line, data...)
			break
		}
		if len(p.line)+i > MaxLineLength {
			return out, p.fail(ErrLineTooLong)
		}
		line := data[:i]
		if len(p.line) > 0 {
			p.line = append(p.line, line...)
			line = p.line
		}
		p.afterCR = data[i] == '\r'
		data = data[i+1:]
		done, err := p.endLine(line)
		p.line = p.line[:0]
		if err != nil {
			return out, p.fail(err)
		}
		if done {
			out = append(out, p.cur)
			p.cur = Block{}
		}
	}
	return out, nil
}

func (p *Parser) fail(err error) error {
	p.err = err
	p.line, p.cur = nil, Block{}
	return err
}

// endLine consumes one complete line and reports whether it completed p.cur.
func (p *Parser) endLine(line []byte) (done bool, err error) {
	blank := len(bytes.TrimRight(line, " \t")) == 0
	if !p.inBlock {
		if !blank { // blank lines between blocks are noise
			p.startBlock(line)
		}
		return false, nil
	}
	if blank {
		p.inBlock = false
		return true, nil
	}
	p.cur.Lines++
	if p.cur.Lines > MaxBlockLines {
		return false, ErrBlockTooLong
	}
	if !p.decodeLine(line) {
		p.cur.Skipped++
	}
	return false, nil
}

func (p *Parser) startBlock(line []byte) {
	p.inBlock = true
	header := bytes.TrimRight(line, " \t")
	p.cur = Block{Kind: lookupKind(header)}
	if p.cur.Kind == KindUnknown {
		p.cur.Header = string(header)
	}
}

// decodeLine adds one body line to p.cur and reports whether it was understood.
func (p *Parser) decodeLine(line []byte) bool {
	b := &p.cur
	switch b.Kind.Format() {
	case FormatPreamble:
		key, val, ok := splitKeyValue(line)
		if !ok || !strings.EqualFold(key, "Version") {
			return false
		}
		b.Version = val
	case FormatDevice:
		return decodeDeviceLine(&b.Device, line)
	case FormatLabels:
		idx, rest, ok := splitIndex(line)
		if !ok {
			return false
		}
		b.Labels = append(b.Labels, Label{Index: idx, Text: string(rest)})
	case FormatRouting:
		idx, rest, ok := splitIndex(trimBlanks(line))
		if !ok {
			return false
		}
		src, ok := parseSource(trimBlanks(rest))
		if !ok {
			return false
		}
		b.Routes = append(b.Routes, Route{Dest: idx, Source: src})
	case FormatLocks:
		idx, rest, ok := splitIndex(trimBlanks(line))
		rest = trimBlanks(rest)
		if !ok || len(rest) != 1 {
			return false
		}
		s := LockState(rest[0] &^ 0x20) // ASCII upper case
		if !s.valid() {
			return false
		}
		b.Locks = append(b.Locks, Lock{Index: idx, State: s})
	case FormatValues:
		idx, rest, ok := splitIndex(trimBlanks(line))
		rest = trimBlanks(rest)
		if !ok || len(rest) == 0 {
			return false
		}
		b.Values = append(b.Values, Value{Index: idx, Value: string(rest)})
	case FormatKeyValues:
		key, val, ok := splitKeyValue(line)
		if !ok {
			return false
		}
		b.Settings = append(b.Settings, Setting{Key: key, Value: val})
	default:
		return false
	}
	return true
}

func decodeDeviceLine(d *Device, line []byte) bool {
	key, val, ok := splitKeyValue(line)
	if !ok {
		return false
	}
	for i, k := range deviceKeys {
		if !strings.EqualFold(key, k) {
			continue
		}
		f := DeviceFields(1) << i
		switch {
		case f == FieldPresent:
			pr, ok := parsePresence(val)
			if !ok {
				return false
			}
			d.Present = pr
		case d.text(f) != nil:
			*d.text(f) = val
		default:
			n, ok := parseIndex([]byte(val))
			if !ok {
				return false
			}
			*d.count(f) = n
		}
		d.Has |= f
		return true
	}
	return false
}

func parsePresence(s string) (Presence, bool) {
	switch strings.ToLower(s) {
	case "true":
		return PresenceTrue, true
	case "false":
		return PresenceFalse, true
	case "needs_update", "needs update", "needs _ update": // the doc typesets it with spaces
		return PresenceNeedsUpdate, true
	}
	return PresenceFalse, false
}

// splitKeyValue splits "Key: value" at the first colon and trims blanks around both.
func splitKeyValue(line []byte) (key, val string, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	key = string(trimBlanks(line[:i]))
	return key, string(trimBlanks(line[i+1:])), key != ""
}

// splitIndex splits "<index> <rest>" at the first space. A line that is only an index has an
// empty rest (an empty label).
func splitIndex(line []byte) (idx int, rest []byte, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		i = len(line)
	} else {
		rest = line[i+1:]
	}
	idx, ok = parseIndex(line[:i])
	return idx, rest, ok
}

// maxIndexDigits keeps indices far below int overflow; real ones have at most 3 digits.
const maxIndexDigits = 6

// parseIndex parses a non-negative decimal index.
func parseIndex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > maxIndexDigits {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseSource parses a route source: an index, or -1 for "disconnected" (serial routing).
func parseSource(b []byte) (int, bool) {
	if string(b) == "-1" {
		return NoSource, true
	}
	return parseIndex(b)
}

func trimBlanks(b []byte) []byte { return bytes.Trim(b, " \t") }

// Decoder reads Blocks from an io.Reader, for clients that own a connection.
type Decoder struct {
	r       io.Reader
	p       Parser
	buf     []byte
	pending []Block
	err     error
}

// decoderBufSize is the read size: a 288x288 dump is about 30 KB, so a few reads take it.
const decoderBufSize = 16 << 10

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: r, buf: make([]byte, decoderBufSize)}
}

// Next returns the next complete block. It returns the reader's error (io.EOF at the end) once
// every block before it was returned, or ErrLineTooLong / ErrBlockTooLong on garbage.
func (d *Decoder) Next() (Block, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return Block{}, d.err
		}
		n, err := d.r.Read(d.buf)
		blocks, perr := d.p.Feed(d.buf[:n])
		d.pending = blocks
		switch {
		case perr != nil:
			d.err = perr
		case err != nil:
			d.err = err
		}
	}
	b := d.pending[0]
	d.pending = d.pending[1:]
	return b, nil
}
