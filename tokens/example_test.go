package tokens_test

import (
	"fmt"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	tt "github.com/sintgate/sintgate/tokens/tokentest"
)

// A root issues alice a token for the arm; alice delegates a narrower one to
// bob; the gateway verifies bob's chain, then the root token is revoked.
func Example() {
	root := tt.Sign("root", tt.Root("root", "alice", 1, now))
	child := tt.Child(root, "bob", 2)
	child.Resource = "ros:///arm/**"
	child.Actions = []string{"publish"}
	bob := tt.Sign("alice", child)

	v := tokens.NewVerifier(1024)
	roots := tokens.RootSet{tt.Pub("root"): true}
	rev := tokens.NewRevocationSet()
	rev.Register(root.Claims.TokenID, "")
	rev.Register(bob.Claims.TokenID, root.Claims.TokenID)

	chain, err := v.VerifyChain(now, bob.Raw, []string{root.Raw}, roots, rev, nil, false)
	fmt.Println(len(chain), err, chain[1].Allows("ros:///arm/joint1", "publish"), chain[1].Allows("ros:///base", "publish"))

	fmt.Println(len(rev.Revoke(root.Claims.TokenID)))
	_, err = v.VerifyChain(now, bob.Raw, []string{root.Raw}, roots, rev, nil, false)
	fmt.Println(codes.Of(err))
	// Output:
	// 2 <nil> true false
	// 2
	// TOKEN_REVOKED
}

func ExampleContains() {
	fmt.Println(tokens.Contains("ros:///arm/**", "ros:///arm/*/cmd"))
	fmt.Println(tokens.Contains("ros:///arm/*", "ros:///arm/**"))
	// Output:
	// true
	// false
}
