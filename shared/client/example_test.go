package client_test

import (
	"context"
	"fmt"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/client"
)

// The example of the package doc, compiled: list the caller's spaces and
// start the first.
func ExampleNew() {
	ctx := context.Background()
	c, err := client.New(client.Config{Address: "https://knot.example.com", Token: "an-api-token"})
	if err != nil {
		fmt.Println(err)
		return
	}
	spaces, err := c.Spaces().List(ctx, client.SpaceListOptions{})
	if shared.ErrorCode(err) == shared.EUNAUTHORIZED {
		fmt.Println("the token is not valid:", shared.ErrorMessage(err))
		return
	}
	if err == nil && len(spaces) > 0 {
		_, err = c.Spaces().Start(ctx, spaces[0].ID)
	}
	fmt.Println(err)
}
