package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowedSkips are the skips that cannot hide a missing dependency under
// CI=true, by "path:function", with the reason. Every other Skip in the
// repository must sit under `if testing.Short()` (an explicit opt-out); a
// missing service or program goes through this package (unavailable,
// Program), which fails under CI=true.
var allowedSkips = map[string]string{
	"gateway/attest/fuzz_test.go:TestWriteFuzzCorpus":              "opt-in generator (SINT_WRITE_CORPUS=1)",
	"gateway/injection/corpus_gen_test.go:TestGenerateCorpus":      "opt-in generator (-update)",
	"estop/replica/replica_test.go:testFanout":                     "the gap subtest needs the in-memory bus; it runs on that bus",
	"bridges/ros/ros_test.go:rosTool":                              "after testenv.ROSCommand returned nil, which it does only after skipping or failing",
	"bridges/ros/xmlrpc/xmlrpc_test.go:TestKoloMisdecodesUntyped":  "signals an upstream change, hides nothing",
	"ledger/pgledger/pgledger_test.go:openFresh":                   "after testenv.FreshPGDatabase, which returns \"\" only after skipping or failing",
	"ledger/pgledger/pgledger_test.go:TestTwoProcessesOneChain":    "as openFresh",
	"ledger/pgledger/exact_test.go:TestByteExactTwoStores":         "as openFresh",
	"ledger/pgledger/exact_test.go:TestByteExactProperty":          "as openFresh",
	"ledger/pgledger/bench_test.go:BenchmarkAppend":                "as openFresh",
	"ledger/pgledger/bench_test.go:BenchmarkProof":                 "as openFresh",
	"store/storetest/storetest.go:testTokens":                      "capability check; both stores assert the capability at compile time",
	"tokens/pattern_test.go:genPattern":                            "property-test filter (rapid)",
	"internal/testenv/pg_test.go:TestPostgresHarness":              "a subtest after a failed one",
	"ledger/filestore/large_bench_test.go:largeDir":                "opt-in benchmark on a generated large ledger (SINT_BENCH_LEDGER); benchmarks do not run in make test",
	"ledger/pgledger/large_bench_test.go:largePG":                  "opt-in benchmark on a 10 M-entry database (SINT_BENCH_PG_URL); benchmarks do not run in make test",
	"ledger/pgledger/large_bench_test.go:BenchmarkLargePGAppend":   "as largePG",
	"ledger/pgledger/archive_test.go:newArchiveFixture":            "as openFresh",
	"ledger/pgledger/archive_bench_test.go:BenchmarkPGArchive":     "opt-in benchmark (SINT_BENCH_ARCHIVE_N), then as openFresh; benchmarks do not run in make test",
	"cmd/sintctl/ledger_archive_test.go:TestLedgerArchivePostgres": "as openFresh",
}

// TestNoSkipHidesAMissingDependency walks the repository's Go files and
// fails on a Skip that is neither under `if testing.Short()` nor listed in
// allowedSkips: under CI=true a missing dependency must fail, not skip.
func TestNoSkipHidesAMissingDependency(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", ".services", "bin", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "internal/testenv/testenv.go" {
			return nil // the one place that decides skip-or-fail
		}
		for _, s := range unguardedSkips(t, p) {
			key := rel + ":" + s.fn
			if _, ok := allowedSkips[key]; ok {
				seen[key] = true
				continue
			}
			t.Errorf("%s:%d: %s.%s in %s is not under `if testing.Short()` and not in allowedSkips: a missing dependency must go through internal/testenv (fails under CI=true)", rel, s.line, s.recv, s.method, s.fn)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range allowedSkips {
		if !seen[key] {
			t.Errorf("allowedSkips lists %s, which has no skip any more: remove the entry", key)
		}
	}
}

type skipSite struct {
	fn, recv, method string
	line             int
}

// unguardedSkips returns the X.Skip/Skipf/SkipNow calls of file p that are
// not inside the body of an `if` whose condition calls testing.Short.
func unguardedSkips(t *testing.T, p string) []skipSite {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", p, err)
	}
	var out []skipSite
	for _, decl := range f.Decls {
		name := declName(decl)
		var stack []ast.Node
		ast.Inspect(decl, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Skip" && sel.Sel.Name != "Skipf" && sel.Sel.Name != "SkipNow") {
				return true
			}
			recv, ok := sel.X.(*ast.Ident)
			if !ok || recv.Name == "filepath" || recv.Name == "fs" {
				return true
			}
			if underShort(stack) {
				return true
			}
			out = append(out, skipSite{fn: name, recv: recv.Name, method: sel.Sel.Name, line: fset.Position(call.Pos()).Line})
			return true
		})
	}
	return out
}

func declName(d ast.Decl) string {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Name.Name
	case *ast.GenDecl:
		for _, s := range d.Specs {
			if vs, ok := s.(*ast.ValueSpec); ok && len(vs.Names) > 0 {
				return vs.Names[0].Name
			}
		}
	}
	return "?"
}

// underShort reports whether the innermost node of stack lies in the body
// of an if statement whose condition calls testing.Short().
func underShort(stack []ast.Node) bool {
	for i := len(stack) - 2; i >= 0; i-- {
		ifs, ok := stack[i].(*ast.IfStmt)
		if !ok || stack[i+1] != ifs.Body {
			continue
		}
		short := false
		ast.Inspect(ifs.Cond, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Short" {
					if x, ok := s.X.(*ast.Ident); ok && x.Name == "testing" {
						short = true
					}
				}
			}
			return !short
		})
		if short {
			return true
		}
	}
	return false
}
