package ui

// The account page: every logged-in user's own profile, password, SSH key,
// quota, two-factor login, API tokens and login sessions. The server renders
// its shell with the shells a user may prefer; its script reads and
// changes the rest through the API as the user.

// accountPage is the template and script of the account page.
const (
	accountPage = "account"
	accountPath = "/account"
)
