package cli

import (
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/llmmon/llmmon/internal/openai"
)

// sizeFlag is a flag that takes a size in bytes, or with a KiB, MiB or GiB
// suffix: --max-body 4MiB, --max-body 1048576.
type sizeFlag[T int | int64] struct{ p *T }

func sizeVar[T int | int64](fl *pflag.FlagSet, p *T, name, usage string) {
	fl.Var(sizeFlag[T]{p}, name, usage)
}

func (f sizeFlag[T]) String() string {
	n := int64(*f.p)
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

func (f sizeFlag[T]) Set(s string) error {
	n, err := openai.ParseBytes(s)
	if err != nil {
		return err
	}
	if int64(T(n)) != n {
		return fmt.Errorf("invalid size %q: too large", s)
	}
	*f.p = T(n)
	return nil
}

func (f sizeFlag[T]) Type() string { return "size" }
