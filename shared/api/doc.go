// Package api holds the bodies of knot's REST API: what a request sends and
// a response carries, as web encodes and decodes them and shared/client
// sends and reads them. It is the one declaration of every JSON shape under
// /api/; no other package re-declares one.
//
// The types are plain data with JSON tags. The New… functions make a
// response body of shared's records, and a request's methods the records
// or changes it asks for, so that web, the client and tests convert alike.
// In a request
// type, a pointer field is optional: nil leaves the value as it is (an
// update) or takes the default (a create), which is why update requests are
// all pointers. Decode reads a request body into one of them with errors
// that name the field, for web and anyone else reading the API's JSON.
// Times are RFC 3339 in UTC. Field names and shapes are part
// of the API's contract: a change to one is a change for every user.
package api

// ErrorBody is the body of every answer with a status of 400 or more.
type ErrorBody struct {
	Error string `json:"error"`
}

// EnrolmentBody is the 401 answer to a login of a user who must enrol in
// TOTP first: the error, and the secret to add to an authenticator app.
type EnrolmentBody struct {
	Error      string `json:"error"`
	TOTPSecret string `json:"totp_secret"`
	TOTPURL    string `json:"totp_url"`
	// TOTPQR is TOTPURL as a QR code: a PNG in a data: URL.
	TOTPQR string `json:"totp_qr,omitempty"`
}

// OK is the body of a successful update, delete or action.
type OK struct {
	Status bool `json:"status"`
}

// Ping is the answer of GET /api/ping.
type Ping struct {
	Status  bool   `json:"status"`
	Version string `json:"version"`
}
