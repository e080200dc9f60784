package api

// LoginRequest is the body of POST /api/auth and POST /api/auth/web.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	TOTPCode string `json:"totp_code"` // needed when TOTP is on
}

// Login is the answer to a login: the session secret to send as a Bearer
// token, and for /api/auth/web the CSRF token its cookie carries.
type Login struct {
	Status    bool   `json:"status"`
	Token     string `json:"token"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

// UsingTOTP is the answer of GET /api/auth/using-totp.
type UsingTOTP struct {
	UsingTOTP bool `json:"using_totp"`
}
