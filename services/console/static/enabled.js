// GOV.UK Frontend styles its components for scripts only when the body says they run
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');
