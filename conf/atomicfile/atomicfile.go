// Package atomicfile writes the files Standby keeps under state_dir and its certificates so
// that a crash or power cut leaves the old content or the new one, never a torn file: a
// temporary file in the same directory, fsync, rename, fsync of the directory.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// Write replaces path with data, created with perm, making its directory if needed.
func Write(path string, data []byte, perm os.FileMode) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+name+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// stale is the name of Write's temporary files: "." + name + "-" + CreateTemp's digits + ".tmp".
var stale = regexp.MustCompile(`^\..+-[0-9]+\.tmp$`)

// RemoveStale removes the temporary files a crash in the middle of Write left in dir (call it
// at start, before anything writes there); it returns their names. A missing dir has none.
func RemoveStale(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range es {
		if !e.Type().IsRegular() || !stale.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// CheckWritable tells whether Write can replace files in dir, by making it (if needed) and
// writing, syncing and removing a temporary file there: a directory that cannot be written is
// found at start, not at the first save.
func CheckWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".write-check-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString("standby\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing in %s: %w", dir, err)
	}
	return os.Remove(tmp.Name())
}
