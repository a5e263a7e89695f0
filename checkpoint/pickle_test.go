package checkpoint

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadPickle(t *testing.T) {
	tests := []struct {
		name    string
		data    string // the pickle, possibly followed by other bytes
		n       int    // bytes of the pickle
		wantErr string
	}{
		{"int", "\x80\x02K\x05.rest", 5, ""},
		{"short unicode", "\x80\x02\x8c\x03abc.", 8, ""},
		{"binunicode", "\x80\x02X\x02\x00\x00\x00hi.", 10, ""},
		{"global and line ops", "\x80\x02ctorch\nFloatStorage\nq\x00I12\n.", 29, ""},
		{"frame", "\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00K\x01.", 14, ""},
		{"long1", "\x80\x02\x8a\x02\x01\x02.", 7, ""},
		{"length beyond the data", "\x80\x02X\xff\xff\xff\x7fhi.", 0, "states 2147483647 bytes, but only 3 remain"},
		{"8-byte length", "\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x01.", 0, "states 72057594037927936 bytes"},
		{"frame beyond the data", "\x80\x04\x95\x00\x00\x00\x00\x01\x00\x00\x00.", 0, "frame at byte 2 states 4294967296 bytes"},
		{"unknown opcode", "\x80\x02\xff.", 0, "unknown opcode 0xff at byte 2"},
		{"no stop", "\x80\x02K\x01", 0, "no STOP opcode"},
		{"cut argument", "\x80\x02M\x01", 0, "only 1 remain"},
		{"unterminated line", "\x80\x02I123", 0, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readPickle(bufio.NewReader(strings.NewReader(tt.data)), int64(len(tt.data)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, []byte(tt.data[:tt.n])) {
				t.Errorf("read %q, want %q", got, tt.data[:tt.n])
			}
		})
	}
}

// TestReadPickleLimit: the limit, not the reader, bounds the pickle.
func TestReadPickleLimit(t *testing.T) {
	data := "\x80\x02X\x05\x00\x00\x00hello."
	if _, err := readPickle(bufio.NewReader(strings.NewReader(data)), 8); err == nil || !strings.Contains(err.Error(), "only 1 remain") {
		t.Errorf("error %v", err)
	}
}
