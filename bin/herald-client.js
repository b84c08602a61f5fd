#!/usr/bin/env node
import '../dist/tools/herald-client.js'
