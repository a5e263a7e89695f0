package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The pickle machine (gopickle) allocates whatever length an opcode states
// before reading it, so a corrupt length in a checkpoint could ask for
// gigabytes. readPickle therefore first walks one pickle's opcodes,
// checking every stated length against the bytes that remain, and returns
// the pickle's bytes for the machine to run on.

// pickleArg is how an opcode's argument is encoded.
type pickleArg int8

const (
	argNone   pickleArg = iota
	argFixed1           // 1 byte
	argFixed2           // 2 bytes
	argFixed4           // 4 bytes
	argFixed8           // 8 bytes
	argLen1             // 1-byte length, then that many bytes
	argLen4             // 4-byte little-endian length, then that many bytes
	argLen8             // 8-byte little-endian length, then that many bytes
	argLine             // text up to a newline
	argLines2           // two such lines
	argFrame            // 8-byte length of the opcodes that follow (FRAME)
)

// pickleOps maps every opcode of pickle protocols 0 to 5 to its argument.
var pickleOps = func() [256]pickleArg {
	var ops [256]pickleArg
	for i := range ops {
		ops[i] = -1
	}
	set := func(arg pickleArg, codes string) {
		for i := 0; i < len(codes); i++ {
			ops[codes[i]] = arg
		}
	}
	set(argNone, "(.012N})tldaesubR]Qo\x88\x89\x85\x86\x87\x81\x92\x93\x94\x8f\x90\x91\x97\x98")
	set(argFixed1, "Khq\x82\x80")
	set(argFixed2, "M\x83")
	set(argFixed4, "Jjr\x84")
	set(argFixed8, "G")
	set(argFrame, "\x95")
	set(argLen1, "UC\x8c\x8a")
	set(argLen4, "TBX\x8b")
	set(argLen8, "\x8d\x8e\x96")
	set(argLine, "ILFSVPgp")
	set(argLines2, "ci")
	return ops
}()

const stopOp = '.'

// readPickle reads one pickle (up to and including its STOP opcode) from
// r, of which at most limit bytes remain, and returns its bytes.
func readPickle(r *bufio.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	take := func(n int64) error {
		if n < 0 || n > limit-int64(buf.Len()) {
			return fmt.Errorf("pickle: opcode argument of %d bytes at byte %d, but only %d remain", n, buf.Len(), limit-int64(buf.Len()))
		}
		if _, err := io.CopyN(&buf, r, n); err != nil {
			return fmt.Errorf("pickle: %w", eofAsUnexpected(err))
		}
		return nil
	}
	line := func() error {
		for {
			b, err := r.ReadByte()
			if err != nil {
				return fmt.Errorf("pickle: %w", eofAsUnexpected(err))
			}
			if int64(buf.Len()) >= limit {
				return errors.New("pickle: unterminated text argument")
			}
			buf.WriteByte(b)
			if b == '\n' {
				return nil
			}
		}
	}
	for {
		at := buf.Len()
		if int64(at) >= limit {
			return nil, errors.New("pickle: no STOP opcode before the end of the data")
		}
		op, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("pickle: %w", eofAsUnexpected(err))
		}
		buf.WriteByte(op)
		if op == stopOp {
			return buf.Bytes(), nil
		}
		switch pickleOps[op] {
		case argNone:
		case argFixed1:
			err = take(1)
		case argFixed2:
			err = take(2)
		case argFixed4:
			err = take(4)
		case argFixed8:
			err = take(8)
		case argLen1, argLen4, argLen8:
			size := int64(1)
			if pickleOps[op] == argLen4 {
				size = 4
			} else if pickleOps[op] == argLen8 {
				size = 8
			}
			if err = take(size); err != nil {
				break
			}
			var le [8]byte
			copy(le[:], buf.Bytes()[buf.Len()-int(size):])
			n := binary.LittleEndian.Uint64(le[:])
			if n > uint64(limit-int64(buf.Len())) {
				err = fmt.Errorf("pickle: opcode 0x%02x at byte %d states %d bytes, but only %d remain", op, at, n, limit-int64(buf.Len()))
				break
			}
			err = take(int64(n))
		case argFrame: // the frame's content is opcodes, walked on as usual
			if err = take(8); err != nil {
				break
			}
			if n := binary.LittleEndian.Uint64(buf.Bytes()[buf.Len()-8:]); n > uint64(limit-int64(buf.Len())) {
				err = fmt.Errorf("pickle: frame at byte %d states %d bytes, but only %d remain", at, n, limit-int64(buf.Len()))
			}
		case argLine:
			err = line()
		case argLines2:
			if err = line(); err == nil {
				err = line()
			}
		default:
			err = fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", op, at)
		}
		if err != nil {
			return nil, err
		}
	}
}
