// Package videohub is a codec for the Blackmagic Videohub Ethernet protocol (TCP port 9990).
//
// The protocol is text: blocks made of a header line ("VIDEO OUTPUT ROUTING:"), body lines, and a
// blank line that ends the block. ACK and NAK are bare words without a colon. See
// shared/notes/videohub.md for the protocol and its edge cases.
//
// Parser is a resumable state machine: feed it the byte stream in any chunking (one byte at a
// time, or many blocks in one read) and it returns typed Blocks. It accepts "\n", "\r\n" and "\r"
// line endings, matches headers and keys case-insensitively, and skips unknown blocks and lines.
// Only two things are errors, both bounding memory: a line longer than MaxLineLength and a block
// with more than MaxBlockLines body lines. After either, the connection should be dropped.
//
// AppendBlock encodes a Block the way a device does: exact capital headers, "\n" line endings and
// a blank line after each block.
//
// # Indices
//
// Port indices are 0-based, as on the wire: output 0 is "Output 1" on the chassis. Convert to
// 1-based numbers only when talking to people (CLI flags, log messages).
//
// # Applying blocks to a mirrored state
//
// Every Block carries its Kind; Kind.Format tells which field of the Block holds the body (Routes,
// Labels, Locks, ...), Kind.Port names the port family the lines index (inputs, outputs,
// monitoring outputs, serial ports, ...) and, for routing, Kind.Source names the family of the
// routed sources. A client mirroring a router can therefore keep its state per Port and apply a
// block with a switch on the Format. Server pushes carry only changed lines: apply them on top of
// what is known. A VIDEOHUB DEVICE block says, through Device.Has, which fields it carried.
//
// A block received with a header and no body lines (Block.Lines == 0) is a dump request when a
// client sends it: the server answers ACK and then the whole block.
package videohub
