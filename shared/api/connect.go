package api

// ConnectApproveRequest is the body of POST /api/connect/approve: the CLI
// that asks for an API token, as the page /connect shows it.
type ConnectApproveRequest struct {
	Port      int    `json:"port"`
	State     string `json:"state"`
	Challenge string `json:"challenge"`
	Host      string `json:"host"`
}

// ConnectApproved is the answer of POST /api/connect/approve: the CLI's
// address that the browser goes on to, with the one-time code and the
// state.
type ConnectApproved struct {
	Status   bool   `json:"status"`
	Redirect string `json:"redirect"`
}

// ConnectTokenRequest is the body of POST /api/connect/token: the one-time
// code the browser brought to the CLI and the CLI's code verifier. The
// answer is a TokenCreated.
type ConnectTokenRequest struct {
	Code     string `json:"code"`
	Verifier string `json:"code_verifier"`
}
