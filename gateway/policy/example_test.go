package policy_test

import (
	"fmt"

	"github.com/sintgate/sintgate/gateway/policy"
)

func ExamplePolicy_Tier() {
	p, err := policy.Parse("policy.yaml", []byte(`version: 1
rules:
  - resource: "ros:///sensors/**"
    actions: [subscribe, read]
    tier: 1
  - resource: "ros:///cmd_vel"
    actions: [publish]
    tier: 2
    escalateOnHumanPresence: true
`))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Tier("ros:///sensors/lidar", "subscribe", false, false))
	fmt.Println(p.Tier("ros:///cmd_vel", "publish", true, false)) // +1 human presence
	fmt.Println(p.Tier("mqtt://plant/valve7", "publish", false, false))
	fmt.Println(p.Tier("ros:///cmd_vel", "estop", true, true))
	// Output:
	// 1
	// 3
	// 4
	// 1
}

func ExampleParse_error() {
	_, err := policy.Parse("policy.yaml", []byte("version: 1\nrules:\n  - resource: \"a\"\n    tierr: 2\n"))
	fmt.Println(err)
	// Output: policy.yaml:4: unknown field "tierr" in rules[0]
}
