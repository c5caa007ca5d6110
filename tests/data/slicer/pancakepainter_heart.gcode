;PancakePainter v1.0.0 GCODE header start
;Originally generated @ Wed Jun 29 2016 14:56:54 GMT-0400 (Eastern Daylight Time)
;Settings used to generate this file:
;----------------------------------------
;flattenResolution: 40
;lineEndPreShutoff: 1
;startWait: 0
;endWait: 0
;shadeChangeWait: 35
;fillSpacing: 15
;fillAngle: 23
;fillGroupThreshold: 27
;----------------------------------------
W1 X42 Y210 L485 T0 ;Define Workspace of this file
G21 ;Set units to MM
G1 F5600 ;Set Speed
M107 ;Pump off
G4 P1000 ;Pause for 1000 milliseconds
M84 ;Motors off
G28 X0 Y0 ;Home All Axis
;PancakePainter header complete
;Starting path #1/11, segments: 15, length: 109, color #1
G00 X177.687 Y169.843
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X185.968 Y169.225
G00 X189.117 Y179.026
;Nearing path end, moving to preshutoff position
G00 X186.534 Y173.386
M107 ;Pump off
G00 X186.387 Y173.065
G4 P0 ;Pause for 0 milliseconds
;Completed path #1/11 on color #1
;Starting path #2/11, segments: 22, length: 145, color #1
G00 X179.943 Y177.254
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X181.24 Y189.679
G00 X180.051 Y179.369
G00 X168.125 Y177.576
;Nearing path end, moving to preshutoff position
G00 X179.59 Y177.264
M107 ;Pump off
G00 X179.943 Y177.254
G4 P0 ;Pause for 0 milliseconds
;Completed path #2/11 on color #1
;Starting path #3/11, segments: 10, length: 215, color #1
G00 X175.432 Y183.054
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X183.935 Y173.775
G00 X191.12 Y163.388
G00 X199.365 Y154.198
G00 X207.691 Y144.781
G00 X215.79 Y135.089
;Nearing path end, moving to preshutoff position
G00 X224.48 Y126.589
M107 ;Pump off
G00 X224.732 Y126.342
G4 P0 ;Pause for 0 milliseconds
;Completed path #3/11 on color #1
;Starting path #4/11, segments: 44, length: 302, color #1
G00 X261.144 Y110.876
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X256.267 Y99.807
G00 X245.409 Y97.331
G00 X256.517 Y101.373
G00 X264.706 Y93.512
G00 X275.06 Y85.587
G00 X272.418 Y77.226
G00 X275.183 Y83.32
;Nearing path end, moving to preshutoff position
G00 X285.639 Y88.486
M107 ;Pump off
G00 X285.955 Y88.642
G4 P0 ;Pause for 0 milliseconds
;Completed path #4/11 on color #1
;Starting path #5/11, segments: 25, length: 750, color #1
G00 X261.788 Y50.62
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X268.28 Y38.433
G00 X278.833 Y29.713
G00 X290.691 Y22.747
G00 X303.869 Y19.218
G00 X317.418 Y22.339
G00 X327.242 Y31.856
G00 X333.012 Y44.501
G00 X333.477 Y58.219
G00 X330.058 Y71.715
G00 X322.363 Y83.146
G00 X315.087 Y94.945
G00 X305.836 Y105.072
G00 X297.949 Y116.465
G00 X290.524 Y128.153
G00 X283.1 Y139.828
G00 X277.534 Y152.511
G00 X272.969 Y165.601
G00 X268.972 Y178.891
;Nearing path end, moving to preshutoff position
G00 X264.797 Y191.741
M107 ;Pump off
G00 X264.688 Y192.076
G4 P0 ;Pause for 0 milliseconds
;Completed path #5/11 on color #1
;Starting path #6/11, segments: 32, length: 810, color #1
G00 X264.044 Y184.987
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X263.626 Y183.619
G00 X258.661 Y171.21
G00 X253.669 Y158.6
G00 X244.111 Y149.116
G00 X235.493 Y138.749
G00 X227.125 Y128.182
G00 X217.351 Y118.805
G00 X207.419 Y109.585
G00 X198.633 Y99.25
G00 X189.496 Y89.15
G00 X182.823 Y77.453
G00 X181.922 Y63.935
G00 X184.441 Y50.845
G00 X187.485 Y37.744
G00 X195.928 Y27.565
G00 X205.888 Y19.154
G00 X219.363 Y20.435
G00 X232.567 Y23.689
G00 X244.058 Y30.312
G00 X253.448 Y39.97
;Nearing path end, moving to preshutoff position
G00 X260.941 Y50.653
M107 ;Pump off
G00 X261.144 Y50.942
G4 P0 ;Pause for 0 milliseconds
;Completed path #6/11 on color #1
;Starting path #7/11, segments: 18, length: 322, color #1
G00 X333.322 Y45.786
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X342.077 Y36.849
G00 X351.752 Y29.158
G00 X361.512 Y21.266
G00 X371.259 Y13.355
G00 X370.244 Y23.345
G00 X370.96 Y21.473
G00 X364.922 Y15.611
G00 X358.967 Y13.878
;Nearing path end, moving to preshutoff position
G00 X370.348 Y14.511
M107 ;Pump off
G00 X370.7 Y14.53
G4 P0 ;Pause for 0 milliseconds
;Completed path #7/11 on color #1
;Starting path #8/11, segments: 7, length: 44, color #1
G00 X363.612 Y15.175
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X370.545 Y13.236
;Nearing path end, moving to preshutoff position
G00 X363.951 Y15.08
M107 ;Pump off
G00 X363.612 Y15.175
G4 P0 ;Pause for 0 milliseconds
;Completed path #8/11 on color #1
;Starting path #9/11, segments: 14, length: 123, color #1
G00 X175.432 Y183.054
M106 ;Pump on
G4 P0 ;Pause for 0 milliseconds
G00 X175.327 Y193.891
G00 X174.885 Y184.604
G00 X164.897 Y185
;Nearing path end, moving to preshutoff position
G00 X175.085 Y183.118
M107 ;Pump off
G00 X175.432 Y183.054
G4 P0 ;Pause for 0 milliseconds
;Completed path #9/11 on color #1
;PancakePainter Footer Start
G4 P1000 ;Pause for 1000 milliseconds
G28 X0 Y0 ;Home All Axis
M84 ;Motors off
;PancakePainter Footer Complete
