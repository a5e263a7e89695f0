// Package atomicfile writes files so that readers see either the old
// content or the complete new content, never a partial write.
package atomicfile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// defaultPerm is the permission of a newly created file. An existing file
// keeps its permission when it is replaced.
const defaultPerm fs.FileMode = 0o644

// Write creates path atomically. It creates a temporary file in the same
// directory (named "."+base+".tmp*"), calls write with a buffered writer on
// it, flushes, fsyncs and closes it, then renames it over path.
//
// On any error, or if write panics, the temporary file is removed and path
// is left untouched. Errors name path.
func Write(path string, write func(w io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm := defaultPerm
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}

	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	if err := fill(f, perm, write); err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	done = true
	return nil
}

// fill writes the content of the temporary file f through write, then
// sets its permission, syncs and closes it.
func fill(f *os.File, perm fs.FileMode, write func(w io.Writer) error) error {
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// WriteFile writes data to path atomically, like Write.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteJSON marshals v as JSON indented with two spaces, followed by a
// newline, and writes it to path atomically, like Write.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("atomicfile: %s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}
