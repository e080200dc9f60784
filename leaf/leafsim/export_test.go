package leafsim

// Header exposes header to the tests.
var Header = header
