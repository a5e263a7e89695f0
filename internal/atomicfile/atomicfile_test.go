package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries returns the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		old     string // existing content; "" means no file
		write   func(w io.Writer) error
		wantErr error
		want    string // content after the call; "" means no file
	}{
		{
			name:  "new file",
			write: func(w io.Writer) error { _, err := io.WriteString(w, "hello\n"); return err },
			want:  "hello\n",
		},
		{
			name:  "replace existing",
			old:   "old",
			write: func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err },
			want:  "new",
		},
		{
			name:    "failure leaves no file",
			write:   func(w io.Writer) error { io.WriteString(w, "partial"); return errBoom },
			wantErr: errBoom,
		},
		{
			name:    "failure keeps existing",
			old:     "old",
			write:   func(w io.Writer) error { io.WriteString(w, "partial"); return errBoom },
			wantErr: errBoom,
			want:    "old",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.txt")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(path, tt.write)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Write error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			got, err := os.ReadFile(path)
			switch {
			case tt.want == "" && !errors.Is(err, os.ErrNotExist):
				t.Errorf("file exists (err %v), want none", err)
			case tt.want != "" && string(got) != tt.want:
				t.Errorf("content = %q (err %v), want %q", got, err, tt.want)
			}
			wantEntries := 0
			if tt.want != "" {
				wantEntries = 1
			}
			if names := entries(t, dir); len(names) != wantEntries {
				t.Errorf("directory holds %q, want %d file(s)", names, wantEntries)
			}
		})
	}
}

func TestWritePanicRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	func() {
		defer func() { recover() }()
		Write(path, func(w io.Writer) error { panic("boom") })
	}()
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q after panic, want nothing", names)
	}
}

func TestWritePermission(t *testing.T) {
	tests := []struct {
		name string
		old  os.FileMode // 0 means no existing file
		want os.FileMode
	}{
		{"new file", 0, defaultPerm},
		{"keeps existing", 0o600, 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if tt.old != 0 {
				if err := os.WriteFile(path, nil, tt.old); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.old); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("x")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWriteMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := WriteFile(path, []byte("x"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile into missing directory: error = %v, want ErrNotExist", err)
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"object", map[string]any{"b": 2, "a": []int{1}}, "{\n  \"a\": [\n    1\n  ],\n  \"b\": 2\n}\n"},
		{"scalar", 3.5, "3.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v.json")
			if err := WriteJSON(path, tt.v); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("content = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteJSONUnsupported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v.json")
	if err := WriteJSON(path, make(chan int)); err == nil {
		t.Fatal("WriteJSON(chan) succeeded, want error")
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q, want nothing", names)
	}
}
