#!/bin/sh
echo warm-up
