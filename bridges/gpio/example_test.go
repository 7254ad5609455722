package gpio_test

import (
	"fmt"

	"github.com/sintgate/sintgate/bridges/gpio"
)

// The two command shapes of action "set".
func ExampleParseCommand() {
	c, _ := gpio.ParseCommand([]byte(`{"value":true}`))
	fmt.Println(*c.Value)
	c, _ = gpio.ParseCommand([]byte(`{"duty":0.25}`))
	fmt.Println(*c.Duty)
	_, err := gpio.ParseCommand([]byte(`{"value":true,"duty":1}`))
	fmt.Println(err != nil)
	// Output:
	// true
	// 0.25
	// true
}
