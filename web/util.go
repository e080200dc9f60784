package web

import "github.com/knot-dev/knot/shared"

// quote is shared.Quote: a value quoted for a message, shortened when long.
var quote = shared.Quote
