// Runs first in <body>: tells GOV.UK Frontend's CSS that JavaScript is on (an external
// file rather than the usual inline snippet, so the Content-Security-Policy stays strict).
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
