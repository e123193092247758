package action

import (
	"bytes"
	"reflect"
	"testing"
)

// The two message examples of the OSC 1.0 specification ("OSC Message Examples"), byte for byte.
func TestOSCSpecExamples(t *testing.T) {
	for _, tc := range []struct {
		addr string
		args []any
		want []byte
	}{
		{"/oscillator/4/frequency", []any{float32(440.0)}, []byte{
			0x2f, 0x6f, 0x73, 0x63, 0x69, 0x6c, 0x6c, 0x61, 0x74, 0x6f, 0x72, 0x2f, 0x34, 0x2f, 0x66, 0x72,
			0x65, 0x71, 0x75, 0x65, 0x6e, 0x63, 0x79, 0x00, 0x2c, 0x66, 0x00, 0x00, 0x43, 0xdc, 0x00, 0x00}},
		{"/foo", []any{int32(1000), int32(-1), "hello", float32(1.234), float32(5.678)}, []byte{
			0x2f, 0x66, 0x6f, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x69, 0x69, 0x73, 0x66, 0x66, 0x00, 0x00,
			0x00, 0x00, 0x03, 0xe8, 0xff, 0xff, 0xff, 0xff, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00,
			0x3f, 0x9d, 0xf3, 0xb6, 0x40, 0xb5, 0xb2, 0x2d}},
	} {
		got, err := EncodeOSC(tc.addr, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.addr, got, tc.want)
		}
		addr, args, err := DecodeOSC(tc.want)
		if err != nil || addr != tc.addr || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("decode %s = %q %v %v", tc.addr, addr, args, err)
		}
	}
}

func TestOSCPaddingAndBlob(t *testing.T) {
	// A string whose length is a multiple of 4 still gets a full word of NULs.
	b, err := EncodeOSC("/abc", "abcd", []byte{1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("/abc\x00\x00\x00\x00,sb\x00abcd\x00\x00\x00\x00\x00\x00\x00\x05\x01\x02\x03\x04\x05\x00\x00\x00")
	if !bytes.Equal(b, want) {
		t.Fatalf("got % x\nwant % x", b, want)
	}
	for _, bad := range [][]byte{[]byte("/abc"), []byte("/ab\x00,s\x00\x00x"), append(append([]byte(nil), want...), 0)} {
		if _, _, err := DecodeOSC(bad); err == nil {
			t.Errorf("% x decoded", bad)
		}
	}
	if _, err := EncodeOSC("abc"); err == nil {
		t.Error("address without / encoded")
	}
	if _, err := EncodeOSC("/a", 3); err == nil {
		t.Error("int (not int32) encoded")
	}
}

func FuzzDecodeOSC(f *testing.F) {
	b, _ := EncodeOSC("/foo", int32(1), "x", []byte{9})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, args, err := DecodeOSC(b)
		if err != nil || len(addr) == 0 || addr[0] != '/' {
			return
		}
		re, err := EncodeOSC(addr, args...)
		if err != nil {
			return
		}
		a2, args2, err := DecodeOSC(re)
		if err != nil || a2 != addr {
			t.Fatalf("round trip of % x: %q %v", b, a2, err)
		}
		if re2, err := EncodeOSC(a2, args2...); err != nil || !bytes.Equal(re, re2) {
			t.Fatalf("round trip of % x: % x, % x", b, re, re2)
		}
	})
}
