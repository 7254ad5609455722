package mcpbridge_test

import (
	"fmt"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
)

// The gateway judges, and the tool receives, the canonical form of the
// arguments.
func ExampleCanonicalArgs() {
	c, err := mcpbridge.CanonicalArgs([]byte(`{ "path": "/srv/robot/plan.yaml", "dryRun": false }`))
	fmt.Println(string(c), err)
	_, err = mcpbridge.CanonicalArgs([]byte(`{"path":"/safe","path":"/etc/shadow"}`))
	fmt.Println(err != nil)
	// Output:
	// {"dryRun":false,"path":"/srv/robot/plan.yaml"} <nil>
	// true
}

func ExampleToolResource() {
	r, _ := mcpbridge.ToolResource("filesystem", "writeFile")
	fmt.Println(r)
	_, err := mcpbridge.ToolResource("filesystem", "../shell")
	fmt.Println(err)
	// Output:
	// mcp://filesystem/writeFile
	// tool name "../shell" has a character outside [A-Za-z0-9._-]
}
