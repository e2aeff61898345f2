// Progressive enhancement: GOV.UK Frontend's components (error summary focus, notification
// banners, skip link). Every page works without it.
import { initAll } from '/static/govuk/govuk-frontend.min.js'

initAll()
